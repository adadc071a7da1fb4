/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mediad-resume.h: our RTP streams across a mediad restart.
 *
 * A call survives a mediad restart (sigd re-sends its MediaControl), but a
 * new session would start a new random stream. For plain RTP that is only a
 * glitch; for SRTP it is worse: the same key with a sequence number (index)
 * the peer has already seen is dropped as a replay, and reusing an index
 * reuses key stream. So mediad saves, every second while sessions run, each
 * session's SSRC, next sequence number, RTP timestamp and SRTP rollover
 * counters, and a session of the same call and port that starts after a
 * restart continues the stream: same SSRC, the sequence number advanced past
 * anything sent since the save (with the ROC carried over a wrap), the
 * timestamp advanced by the time elapsed.
 *
 * With each stream goes the MediaControl that set it up, SRTP keys included
 * (the file is 0600, and each version replaced is overwritten with zeros): a
 * restarted mediad starts the sessions again at once, before sigd re-sends
 * its MediaControls, which then confirm them (same socket: updated in place)
 * or end them. Without that, the lines heard silence from the moment the
 * data plane was back until sigd's MediaControls came (about 100 ms in a
 * sanitizer build), and nothing at all while sigd was down too. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "gw-macro.h"
#include "mediad-rtp.h"

#define MEDIAD_STREAMS_FILE       "mediad.streams"
#define MEDIAD_RESUME_SAVE_USEC   USEC_PER_SEC
/* Packets we may have sent after the last save besides 50/s of audio (RFC 4733
 * end packets, a late save): the sequence number skips this many more. */
#define MEDIAD_RESUME_SEQ_MARGIN  100u
/* Older saves are not resumed (the peer has long forgotten the stream). */
#define MEDIAD_RESUME_MAX_AGE_USEC (60 * USEC_PER_SEC)

typedef struct MediaResume MediaResume;

/* Read dir/mediad.streams (absent or unreadable: nothing to resume, logged). */
int media_resume_load(const char *dir, MediaResume **ret);
MediaResume *media_resume_free(MediaResume *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(MediaResume *, media_resume_free);

/* A saved stream of 'port' with p's Call-ID and local port, if any: fill p
 * (ssrc, seq, ts, ROCs) as above and forget it. Sessions sigd already resumes
 * (p->ssrc set) are left alone. Returns true if p now resumes a stream,
 * with the sequence numbers skipped in *ret_skip. */
bool media_resume_apply(MediaResume *r, uint32_t port, RtpParams *p, uint32_t *ret_skip);

/* The saved MediaControl (packed) of the i-th stream saved, if it has one and
 * is recent enough to resume; i from 0 up to media_resume_count(). */
size_t media_resume_count(const MediaResume *r);
bool media_resume_control(const MediaResume *r, size_t i, const uint8_t **ret, size_t *ret_len);

/* The stream of one running session, for media_resume_save(), with the
 * MediaControl that set it up (packed; NULL: none). */
typedef struct MediaResumeEntry {
        uint32_t port;
        const RtpSession *rtp;
        const uint8_t *control;
        size_t control_len;
} MediaResumeEntry;
int media_resume_save(const char *dir, const MediaResumeEntry *e, size_t n);

/* Pure arithmetic, for tests: advance a saved (seq, roc) by 'skip' packets. */
void media_resume_advance(uint16_t seq, uint32_t roc, uint32_t skip, uint16_t *ret_seq, uint32_t *ret_roc);
