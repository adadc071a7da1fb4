/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-linehwd-sim.c: the simulated line card behind the backend interface. */
#include "gw-tests.h"
#include "linehwd-backend.h"

DEFINE_TEST_MAIN;

static const unsigned ports[] = { 1, 2, 7 };

TEST(linehwd_sim_initial_state) {
        _cleanup_(line_backend_freep) LineBackend *b = NULL;
        LineHook h;
        bool ring;
        LinePolarity p;
        LineFeed f;

        ASSERT_OK(line_backend_new("sim", ports, ELEMENTSOF(ports), &b));
        ASSERT_EQ(line_backend_n_ports(b), 3);
        for (size_t i = 0; i < ELEMENTSOF(ports); i++) {
                ASSERT_OK(line_backend_get_hook(b, ports[i], &h));
                ASSERT_EQ(h, LINE_HOOK_ON);
                ASSERT_OK(line_backend_get_ring(b, ports[i], &ring));
                ASSERT_FALSE(ring);
                ASSERT_OK(line_backend_get_polarity(b, ports[i], &p));
                ASSERT_EQ(p, LINE_POLARITY_NORMAL);
                ASSERT_OK(line_backend_get_feed(b, ports[i], &f));
                ASSERT_EQ(f, LINE_FEED_ACTIVE);
        }
        ASSERT_ERROR(line_backend_get_hook(b, 3, &h), ENXIO);
        ASSERT_ERROR(line_backend_set_ring(b, 0, true), ENXIO);
}

TEST(linehwd_sim_bad_setup) {
        LineBackend *b = NULL;
        const unsigned dup[] = { 1, 1 }, zero[] = { 0 };

        ASSERT_ERROR(line_backend_new("slic9000", ports, 1, &b), EOPNOTSUPP);
        ASSERT_ERROR(line_backend_new("sim", dup, 2, &b), EINVAL);
        ASSERT_ERROR(line_backend_new("sim", zero, 1, &b), EINVAL);
        ASSERT_TRUE(b == NULL);
        ASSERT_OK(line_backend_new("sim", NULL, 0, &b));
        ASSERT_EQ(line_backend_n_ports(b), 0);
        line_backend_free(b);
}

static unsigned hook_events, last_port;
static LineHook last_hook;

static void on_hook(LineBackend *b, unsigned port, LineHook hook, void *userdata) {
        hook_events++;
        last_port = port;
        last_hook = hook;
        ASSERT_TRUE(userdata == &hook_events);
}

TEST(linehwd_sim_hook_and_ring) {
        _cleanup_(line_backend_freep) LineBackend *b = NULL;
        LineHook h;
        bool ring;

        ASSERT_OK(line_backend_new("sim", ports, ELEMENTSOF(ports), &b));
        line_backend_set_hook_callback(b, on_hook, &hook_events);
        hook_events = 0;

        ASSERT_OK(line_backend_set_ring(b, 2, true));
        ASSERT_OK(line_backend_get_ring(b, 2, &ring));
        ASSERT_TRUE(ring);

        /* Answering trips the ringing and reports the hook change once. */
        ASSERT_EQ(line_backend_sim_set_hook(b, 2, LINE_HOOK_OFF), 1);
        ASSERT_EQ(hook_events, 1);
        ASSERT_EQ(last_port, 2);
        ASSERT_EQ(last_hook, LINE_HOOK_OFF);
        ASSERT_OK(line_backend_get_ring(b, 2, &ring));
        ASSERT_FALSE(ring);
        ASSERT_OK(line_backend_get_hook(b, 2, &h));
        ASSERT_EQ(h, LINE_HOOK_OFF);
        /* No change, no event. */
        ASSERT_EQ(line_backend_sim_set_hook(b, 2, LINE_HOOK_OFF), 0);
        ASSERT_EQ(hook_events, 1);
        /* An off-hook line cannot be rung. */
        ASSERT_ERROR(line_backend_set_ring(b, 2, true), EBUSY);
        /* Other lines are untouched. */
        ASSERT_OK(line_backend_get_hook(b, 1, &h));
        ASSERT_EQ(h, LINE_HOOK_ON);

        ASSERT_EQ(line_backend_sim_set_hook(b, 2, LINE_HOOK_ON), 1);
        ASSERT_EQ(hook_events, 2);
        ASSERT_EQ(last_hook, LINE_HOOK_ON);
        ASSERT_ERROR(line_backend_sim_set_hook(b, 9, LINE_HOOK_OFF), ENXIO);
        ASSERT_ERROR(line_backend_sim_set_hook(b, 1, (LineHook) 5), EINVAL);
}

TEST(linehwd_sim_polarity_feed) {
        _cleanup_(line_backend_freep) LineBackend *b = NULL;
        LinePolarity p;
        LineFeed f;
        bool ring;

        ASSERT_OK(line_backend_new("sim", ports, ELEMENTSOF(ports), &b));
        ASSERT_OK(line_backend_set_polarity(b, 7, LINE_POLARITY_REVERSED));
        ASSERT_OK(line_backend_get_polarity(b, 7, &p));
        ASSERT_EQ(p, LINE_POLARITY_REVERSED);
        ASSERT_ERROR(line_backend_set_polarity(b, 7, (LinePolarity) 2), EINVAL);

        ASSERT_OK(line_backend_set_ring(b, 7, true));
        ASSERT_OK(line_backend_set_feed(b, 7, LINE_FEED_DISCONNECT));
        ASSERT_OK(line_backend_get_feed(b, 7, &f));
        ASSERT_EQ(f, LINE_FEED_DISCONNECT);
        ASSERT_OK(line_backend_get_ring(b, 7, &ring));
        ASSERT_FALSE(ring);
        ASSERT_ERROR(line_backend_set_feed(b, 7, (LineFeed) -3), EINVAL);

        ASSERT_STREQ(line_feed_to_string(LINE_FEED_STANDBY), "standby");
        ASSERT_EQ(line_feed_from_string("disconnect"), LINE_FEED_DISCONNECT);
        ASSERT_EQ(line_hook_from_string("off-hook"), LINE_HOOK_OFF);
        ASSERT_EQ(line_polarity_from_string("sideways"), -EINVAL);
        ASSERT_TRUE(line_hook_to_string((LineHook) 7) == NULL);
}

TEST(linehwd_sim_pcm) {
        _cleanup_(line_backend_freep) LineBackend *b = NULL;
        int16_t in[LINE_PCM_FRAME_SAMPLES], out[LINE_PCM_FRAME_SAMPLES];

        ASSERT_OK(line_backend_new("sim", ports, ELEMENTSOF(ports), &b));
        ASSERT_ERROR(line_backend_read_pcm(b, 1, out), EAGAIN);

        /* The phone speaks: frames come out of read_pcm in order. */
        for (int k = 0; k < LINE_SIM_PCM_QUEUE; k++) {
                for (int i = 0; i < LINE_PCM_FRAME_SAMPLES; i++)
                        in[i] = (int16_t) (k * 1000 + i);
                ASSERT_OK(line_backend_sim_push_pcm(b, 1, in));
        }
        ASSERT_ERROR(line_backend_sim_push_pcm(b, 1, in), ENOBUFS);
        for (int k = 0; k < LINE_SIM_PCM_QUEUE; k++) {
                ASSERT_OK(line_backend_read_pcm(b, 1, out));
                ASSERT_EQ(out[0], k * 1000);
                ASSERT_EQ(out[LINE_PCM_FRAME_SAMPLES - 1], k * 1000 + LINE_PCM_FRAME_SAMPLES - 1);
        }
        ASSERT_ERROR(line_backend_read_pcm(b, 1, out), EAGAIN);

        /* What is written to the line is what the phone hears; lines are separate. */
        for (int i = 0; i < LINE_PCM_FRAME_SAMPLES; i++)
                in[i] = (int16_t) -i;
        ASSERT_OK(line_backend_write_pcm(b, 2, in));
        ASSERT_ERROR(line_backend_sim_pop_pcm(b, 1, out), EAGAIN);
        ASSERT_OK(line_backend_sim_pop_pcm(b, 2, out));
        ASSERT_EQ(memcmp(in, out, sizeof in), 0);
        ASSERT_ERROR(line_backend_write_pcm(b, 4, in), ENXIO);
}
