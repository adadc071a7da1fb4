/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-sigd-sipp.h: SIPp as the far end of sigd's call tests (tests/integration/sipp/call-*.xml). */
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "sigd-manager.h"

/* SIPp as a callee on addr:port (waited for until it listens), or (remote != NULL) as a
 * caller of 'service' at remote. Its errors go to /tmp/<name>-sipp-<port>.log; it gives
 * up after timeout_s; pause_ms > 0 is its default pause (-d), for a scenario's <pause/>. */
pid_t sigd_test_sipp_start(const char *name, const char *scenario, const char *addr, uint16_t port, const char *remote,
                           const char *service, unsigned pause_ms, unsigned timeout_s);
/* Run e until SIPp exits (at most timeout_usec): the test fails unless it exited 0. */
void sigd_test_sipp_wait(const char *name, sd_event *e, pid_t pid, uint64_t timeout_usec);
/* Digits on a line, one by one, as mediad's DigitDetected brings them. */
void sigd_test_dial(Manager *m, unsigned port, const char *digits);
