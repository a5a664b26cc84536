/* The packet path's per-packet work in C (packet_core.py loads it, packet_core_build.py
 * compiles it with cffi at install time). Same results as the Python reference
 * (packets.py: ExtensionMapper.block, rewritten_header; srtp_direct.py), byte for byte:
 * the tests run both on the same cases.
 *
 * libsrtp is the copy pylibsrtp links into its own module, called through the function
 * pointers Python passes in: aiortc's sessions (srtp_t) were made by that copy, whose
 * structures and global state another libsrtp build would not share. */

#include <math.h>
#include <stdint.h>
#include <string.h>

#define GV_MAX_PACKET 1500
#define GV_TRAILER (16 + 128) /* SRTP tag and MKI (pylibsrtp's SRTP_MAX_TRAILER_LEN) */
#define GV_FALLBACK (-1)      /* an extension the one-byte form cannot carry: Python's generic form */
#define GV_TOO_LONG (-2)
#define GV_MALFORMED (-3)

typedef int (*gv_srtp_fn)(void *srtp, void *data, int *length);

typedef struct {
    gv_srtp_fn protect; /* NULL: the rewritten packet unprotected (tests) */
    void *srtp;         /* the subscriber's srtp_t */
    uint32_t ssrc;
    uint8_t map[256];   /* publisher extension id -> subscriber id (0: not forwarded) */
    uint8_t mid[16];
    int mid_length;     /* 0: no mid element */
    int mid_id;
    int abs_id;         /* 0: no abs-send-time */
    uint8_t playout[4]; /* the engine's playout-delay element (one-byte form), after the mid */
    int playout_length; /* 0: none */
} gv_forward;

static void put16(uint8_t *p, uint32_t v) { p[0] = v >> 8; p[1] = v; }
static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

/* The header extension elements of an RTP packet (RFC 8285, one-byte and two-byte forms),
 * one at a time; the one reading both map_extensions and gv_inspect use. */
typedef struct {
    const uint8_t *data;
    int at, end;  /* the next element's offset; the block's end (the payload's start) */
    int form;     /* 1: one-byte, 2: two-byte, 0: a profile whose elements are not read */
} gv_elements;

/* The block at data[pos] (the packet has its X bit): 0, or GV_MALFORMED. */
static int elements_open(gv_elements *e, const uint8_t *data, int size, int pos) {
    if (size < pos + 4)
        return GV_MALFORMED;
    int profile = (data[pos] << 8) | data[pos + 1];
    e->data = data;
    e->at = pos + 4;
    e->end = pos + 4 + 4 * ((data[pos + 2] << 8) | data[pos + 3]);
    if (e->end > size)
        return GV_MALFORMED;
    e->form = profile == 0xBEDE ? 1 : (profile & 0xFFF0) == 0x1000 ? 2 : 0;
    return 0;
}

/* The next element: 1 (its id, its value at data[*value], *length bytes), 0 at the end
 * (padding skipped; one-byte id 15 ends the block), or GV_MALFORMED. */
static int elements_next(gv_elements *e, int *id, int *value, int *length) {
    const uint8_t *data = e->data;
    while (e->form && e->at < e->end) {
        if (e->form == 1) {
            int byte = data[e->at];
            if (byte == 0) { e->at++; continue; }
            *id = byte >> 4;
            *length = (byte & 0x0F) + 1;
            if (*id == 15) {
                e->at = e->end;
                return 0;
            }
            e->at++;
        } else {
            *id = data[e->at];
            if (*id == 0) { e->at++; continue; }
            if (e->at + 2 > e->end)
                return GV_MALFORMED;
            *length = data[e->at + 1];
            e->at += 2;
        }
        if (e->at + *length > e->end)
            return GV_MALFORMED;
        *value = e->at;
        e->at += *length;
        return 1;
    }
    return 0;
}

/* The subscriber's one-byte extension elements (without the 4-byte block header) at out;
 * their length, or GV_FALLBACK / GV_MALFORMED. */
static int map_extensions(const gv_forward *f, const uint8_t *data, int size, uint64_t ntp, uint8_t *out) {
    int n = 0;
    int cc = data[0] & 0x0F, pos = 12 + 4 * cc;
    if (data[0] & 0x10) {
        gv_elements e;
        int id, value, length;
        int rc = elements_open(&e, data, size, pos);
        while (rc == 0 && (rc = elements_next(&e, &id, &value, &length)) == 1) {
            rc = 0;
            if (!f->map[id])
                continue;
            if (length < 1 || length > 16)  /* a two-byte element the one-byte form cannot carry */
                return GV_FALLBACK;
            out[n++] = (f->map[id] << 4) | (length - 1);
            memcpy(out + n, data + value, length);
            n += length;
        }
        if (rc < 0)
            return rc;
    }
    if (f->mid_length) {
        out[n++] = (f->mid_id << 4) | (f->mid_length - 1);
        memcpy(out + n, f->mid, f->mid_length);
        n += f->mid_length;
    }
    if (f->playout_length) {
        memcpy(out + n, f->playout, f->playout_length);
        n += f->playout_length;
    }
    if (f->abs_id) {
        uint32_t abs = (ntp >> 14) & 0xFFFFFF;
        out[n++] = (f->abs_id << 4) | 2;
        out[n++] = abs >> 16;
        out[n++] = abs >> 8;
        out[n++] = abs;
    }
    return n;
}

/* One packet for one subscriber: `data` (an unprotected RTP packet, its payload at
 * data[start:end], or `payload` when not NULL) rewritten with this payload type, sequence
 * number and timestamp, the forward's SSRC and extensions, then protected, into buffer
 * (GV_MAX_PACKET + GV_TRAILER bytes). Returns its length, GV_FALLBACK, GV_TOO_LONG,
 * GV_MALFORMED, or -(1000 + libsrtp's error code). */
int gv_forward_packet(const gv_forward *f, char *buffer, const uint8_t *data, int size, int marker,
                      int payload_type, int sequence, uint32_t timestamp, uint64_t ntp,
                      int start, int end, const uint8_t *payload, int payload_length) {
    uint8_t *out = (uint8_t *)buffer;
    /* Elements at most: 15 forwarded (17 bytes each, the largest ids 1-14 give), mid, playout, abs. */
    uint8_t elements[15 * 17 + 17 + 4 + 4 + 3];
    if (size < 12 || start < 12 || end > size || start > end)
        return GV_MALFORMED;
    int body = map_extensions(f, data, size, ntp, elements);
    if (body < 0)
        return body;
    if (payload == NULL) {
        payload = data + start;
        payload_length = end - start;
    }
    int padding = (4 - body % 4) % 4;
    int block = body ? 4 + body + padding : 0;
    int length = 12 + block + payload_length;
    if (length > GV_MAX_PACKET)
        return GV_TOO_LONG;
    out[0] = body ? 0x90 : 0x80;
    out[1] = (marker ? 0x80 : 0) | (payload_type & 0x7F);
    put16(out + 2, sequence);
    put32(out + 4, timestamp);
    put32(out + 8, f->ssrc);
    if (body) {
        put16(out + 12, 0xBEDE);
        put16(out + 14, (body + padding) / 4);
        memcpy(out + 16, elements, body);
        memset(out + 16 + body, 0, padding);
    }
    memcpy(out + 12 + block, payload, payload_length);
    if (f->protect != NULL) {
        int rc = f->protect(f->srtp, out, &length);
        if (rc)
            return -(1000 + rc);
    }
    return length;
}

/* header + extensions + payload, protected, into buffer (RTX, padding: srtp_direct.Protector's work). */
int gv_protect_parts(const gv_forward *f, char *buffer, const uint8_t *header, int header_length,
                     const uint8_t *extensions, int extensions_length, const uint8_t *payload, int payload_length) {
    int length = header_length + extensions_length + payload_length;
    if (length > GV_MAX_PACKET)
        return GV_TOO_LONG;
    memcpy(buffer, header, header_length);
    memcpy(buffer + header_length, extensions, extensions_length);
    memcpy(buffer + header_length + extensions_length, payload, payload_length);
    if (f->protect != NULL) {
        int rc = f->protect(f->srtp, buffer, &length);
        if (rc)
            return -(1000 + rc);
    }
    return length;
}

/* data unprotected into buffer: its length, GV_TOO_LONG, or -(1000 + libsrtp's error code). */
int gv_unprotect(gv_srtp_fn unprotect, void *srtp, char *buffer, const uint8_t *data, int size) {
    if (size > GV_MAX_PACKET)
        return GV_TOO_LONG;
    memcpy(buffer, data, size);
    int rc = unprotect(srtp, buffer, &size);
    return rc ? -(1000 + rc) : size;
}

/* The receive side's per-packet reading, in one call (packets.py's parse_rtp, RtpView.extension
 * and is_keyframe_start, same results): an unprotected RTP packet validated as parse_rtp does,
 * its fields into out[GV_FIELDS] (marker, payload type, sequence, timestamp, SSRC, payload
 * start, payload end, the transport-wide sequence number or GV_NONE, abs-send-time or GV_NONE,
 * keyframe start 0/1). tcc_id, abs_id: the publisher's ids (0: none). codec: GV_AUDIO, GV_VP8,
 * GV_H264, GV_OTHER (never a keyframe). Returns 0 or GV_MALFORMED. */
#define GV_FIELDS 10
#define GV_NONE 0xFFFFFFFFu
#define GV_AUDIO 0
#define GV_VP8 1
#define GV_H264 2
#define GV_OTHER 3

static uint32_t element_value(const uint8_t *p, int length, int wanted) {
    if (length != wanted)
        return GV_NONE; /* what the publication ignores: only 2-byte tcc, 3-byte abs-send-time */
    return wanted == 2 ? (uint32_t)((p[0] << 8) | p[1]) : (uint32_t)((p[0] << 16) | (p[1] << 8) | p[2]);
}

static int vp8_keyframe_start(const uint8_t *p, int size) {
    if (size < 1)
        return 0;
    int first = p[0];
    if (!(first & 0x10) || (first & 0x07))
        return 0;
    int pos = 1;
    if (first & 0x80) {
        if (size < 2)
            return 0;
        int ext = p[1];
        pos = 2;
        if (ext & 0x80) {
            if (size <= pos)
                return 0;
            pos += (p[pos] & 0x80) ? 2 : 1;
        }
        if (ext & 0x40)
            pos += 1;
        if (ext & 0x30)
            pos += 1;
    }
    return size > pos && !(p[pos] & 0x01);
}

static int h264_keyframe_start(const uint8_t *p, int size) {
    if (size < 1)
        return 0;
    int nal = p[0] & 0x1F;
    if (nal == 5 || nal == 7)
        return 1;
    if (nal == 24) { /* STAP-A */
        int pos = 1;
        while (pos + 2 < size) {
            int length = (p[pos] << 8) | p[pos + 1];
            int inner = p[pos + 2] & 0x1F;
            if (inner == 5 || inner == 7)
                return 1;
            pos += 2 + length;
        }
        return 0;
    }
    if (nal == 28)
        return size > 1 && (p[1] & 0x80) && (p[1] & 0x1F) == 5;
    return 0;
}

int gv_inspect(const uint8_t *data, int size, int tcc_id, int abs_id, int codec, uint32_t *out) {
    if (size < 12 || (data[0] >> 6) != 2)
        return GV_MALFORMED;
    int first = data[0];
    int pos = 12 + 4 * (first & 0x0F);
    uint32_t tcc = GV_NONE, abs = GV_NONE;
    int tcc_found = 0, abs_found = 0; /* the first element of an id counts, as RtpView.extension */
    if (size < pos)
        return GV_MALFORMED;
    if (first & 0x10) {
        gv_elements e;
        int id, at, length;
        int rc = elements_open(&e, data, size, pos);
        while (rc == 0 && (rc = elements_next(&e, &id, &at, &length)) == 1) {
            rc = 0;
            if (id == tcc_id && !tcc_found) { tcc = element_value(data + at, length, 2); tcc_found = 1; }
            if (id == abs_id && !abs_found) { abs = element_value(data + at, length, 3); abs_found = 1; }
        }
        if (rc < 0)
            return rc;
        pos = e.end;
    }
    int stop = size;
    if (first & 0x20) {
        int padding = data[size - 1];
        if (padding == 0 || padding > size - pos)
            return GV_MALFORMED;
        stop = size - padding;
    }
    int keyframe = codec == GV_AUDIO ? 1 : codec == GV_VP8 ? vp8_keyframe_start(data + pos, stop - pos)
                 : codec == GV_H264 ? h264_keyframe_start(data + pos, stop - pos) : 0;
    out[0] = data[1] >> 7;
    out[1] = data[1] & 0x7F;
    out[2] = (data[2] << 8) | data[3];
    out[3] = ((uint32_t)data[4] << 24) | (data[5] << 16) | (data[6] << 8) | data[7];
    out[4] = ((uint32_t)data[8] << 24) | (data[9] << 16) | (data[10] << 8) | data[11];
    out[5] = pos;
    out[6] = stop;
    out[7] = tcc;
    out[8] = abs;
    out[9] = keyframe;
    return 0;
}

/* --- A publication's history and its subscribers' numbering (packets.py's History and
 * Rewriter, same results): the video history keeps the raw packets here, not as Python
 * objects, and a forward from it is one call (map + rewrite + protect). */

#include <stdlib.h>

#define GV_ABSENT (-5)     /* not in the history */
#define GV_NOT_MAPPED (-6) /* the numbering does not send it (before a start, too late, waiting for a keyframe) */
#define GV_NO_MEMORY (-7)
#define GV_MAX_LATE 1000   /* Rewriter.MAX_LATE */

typedef struct {
    int clock_rate, keyframes, started;
    uint32_t seq_offset, ts_offset;
    int base, highest, max_seq;
    uint32_t last_ts;
    int has_time;
    double last_time;
    uint64_t packets, octets; /* forwarded (protected) with this numbering: sender reports */
    int last_octets;
} gv_numbering;

typedef struct {
    uint8_t *data;
    int capacity, size;
    int sequence; /* -1: empty */
    uint32_t timestamp, ssrc;
    int marker, payload_type, start, end, keyframe;
} gv_slot;

typedef struct gv_ring {
    int size;
    gv_slot *slots;
} gv_ring;

static int seq_newer(int a, int b) {
    int d = (a - b) & 0xFFFF;
    return d > 0 && d < 0x8000;
}

/* Rewriter.map: the output sequence number (*out_ts its timestamp), or GV_NOT_MAPPED. */
int gv_map(gv_numbering *n, int sequence, uint32_t timestamp, int keyframe, double now, uint32_t *out_ts) {
    if (!n->started) {
        if (n->keyframes && !keyframe)
            return GV_NOT_MAPPED;
        n->seq_offset = (uint32_t)(n->max_seq + 1 - sequence) & 0xFFFF;
        if (!n->has_time) {
            n->ts_offset = n->last_ts - timestamp;
        } else {
            long long elapsed = (long long)((now - n->last_time) * n->clock_rate);
            if (elapsed < 1)
                elapsed = 1;
            n->ts_offset = n->last_ts + (uint32_t)elapsed - timestamp;
        }
        n->base = n->highest = sequence;
        n->started = 1;
    } else if (!n->keyframes) {
        int ahead = (sequence - n->highest) & 0xFFFF;
        if (!ahead || ahead >= 0x8000)
            return GV_NOT_MAPPED;
        n->highest = sequence;
        n->seq_offset = (uint32_t)(n->max_seq + 1 - sequence) & 0xFFFF;
    } else {
        int ahead = (sequence - n->highest) & 0xFFFF;
        if (ahead && ahead < 0x8000) {
            n->highest = sequence;
            /* Rewriter._forget_old: a start further back than MAX_LATE moves up, or after
             * 65,536 packets it would read as only a few back and refuse late packets. */
            if (((n->highest + 1 - n->base) & 0xFFFF) > GV_MAX_LATE + 1)
                n->base = (n->highest - GV_MAX_LATE) & 0xFFFF;
        } else if (ahead) {
            int behind = 0x10000 - ahead, since_start = (n->highest - n->base) & 0xFFFF;
            if (behind > since_start || behind > GV_MAX_LATE)
                return GV_NOT_MAPPED;
        }
    }
    int out_seq = (int)((sequence + n->seq_offset) & 0xFFFF);
    *out_ts = timestamp + n->ts_offset;
    if (seq_newer(out_seq, n->max_seq)) {
        n->max_seq = out_seq;
        n->last_ts = *out_ts;
        n->last_time = now;
        n->has_time = 1;
    }
    return out_seq;
}

/* gv_map, then gv_forward_packet; mapped[0..1] the output sequence number and timestamp
 * (also on GV_FALLBACK, for the Python form). Counts what was protected. */
int gv_forward_mapped(const gv_forward *f, gv_numbering *n, char *buffer, const uint8_t *data, int size,
                      int marker, int payload_type, int sequence, uint32_t timestamp, int keyframe, double now,
                      uint64_t ntp, int start, int end, const uint8_t *payload, int payload_length,
                      uint32_t *mapped) {
    uint32_t ts;
    int out_seq = gv_map(n, sequence, timestamp, keyframe, now, &ts);
    if (out_seq < 0)
        return out_seq;
    mapped[0] = out_seq;
    mapped[1] = ts;
    int length = gv_forward_packet(f, buffer, data, size, marker, payload_type, out_seq, ts, ntp, start, end,
                                   payload, payload_length);
    if (length > 0) {
        n->last_octets = payload == NULL ? end - start : payload_length;
        n->packets++;
        n->octets += n->last_octets;
    }
    return length;
}

gv_ring *gv_ring_new(int size) {
    gv_ring *r = calloc(1, sizeof(gv_ring));
    if (r == NULL)
        return NULL;
    r->slots = calloc(size, sizeof(gv_slot));
    if (r->slots == NULL) {
        free(r);
        return NULL;
    }
    r->size = size;
    for (int i = 0; i < size; i++)
        r->slots[i].sequence = -1;
    return r;
}

void gv_ring_free(gv_ring *r) {
    if (r == NULL)
        return;
    for (int i = 0; i < r->size; i++)
        free(r->slots[i].data);
    free(r->slots);
    free(r);
}

/* History.add: the packet (its fields as parsed) in its slot, replacing what was there.
 * Each slot keeps its buffer (grown to the largest packet it held): no allocation per packet. */
int gv_ring_put(gv_ring *r, const uint8_t *data, int size, int marker, int payload_type, int sequence,
                uint32_t timestamp, uint32_t ssrc, int start, int end, int keyframe) {
    if (size > GV_MAX_PACKET || size < 12 || start < 12 || end > size || start > end)
        return GV_MALFORMED;
    gv_slot *s = &r->slots[sequence % r->size];
    if (s->capacity < size) {
        int capacity = (size + 63) & ~63;
        uint8_t *grown = realloc(s->data, capacity);
        if (grown == NULL)
            return GV_NO_MEMORY;
        s->data = grown;
        s->capacity = capacity;
    }
    memcpy(s->data, data, size);
    s->size = size;
    s->sequence = sequence;
    s->timestamp = timestamp;
    s->ssrc = ssrc;
    s->marker = marker;
    s->payload_type = payload_type;
    s->start = start;
    s->end = end;
    s->keyframe = keyframe;
    return 0;
}

/* The slot holding `sequence`, or NULL (History.get). */
const gv_slot *gv_ring_get(const gv_ring *r, int sequence) {
    const gv_slot *s = &r->slots[sequence % r->size];
    return s->sequence == sequence ? s : NULL;
}

/* GV_ABSENT, 0 (held), 1 (held, a keyframe start). */
int gv_ring_state(const gv_ring *r, int sequence) {
    const gv_slot *s = gv_ring_get(r, sequence);
    return s == NULL ? GV_ABSENT : s->keyframe;
}

/* The held packet `sequence` for one subscriber: mapped by its numbering, rewritten,
 * protected (gv_forward_mapped); GV_ABSENT if the history does not hold it. */
int gv_ring_forward(const gv_ring *r, int sequence, const gv_forward *f, gv_numbering *n, char *buffer,
                    int payload_type, double now, uint64_t ntp, uint32_t *mapped) {
    const gv_slot *s = gv_ring_get(r, sequence);
    if (s == NULL)
        return GV_ABSENT;
    return gv_forward_mapped(f, n, buffer, s->data, s->size, s->marker, payload_type, s->sequence, s->timestamp,
                             s->keyframe, now, ntp, s->start, s->end, NULL, 0, mapped);
}

/* The light REMB estimator (remb.py: LightBitrateEstimator is the reference, same results to
 * the bit): per packet, the packet groups by send time and the bytes for the throughput
 * window; per closed group, aiortc.rate's Kalman filter (OveruseEstimator.update) and overuse
 * detector (OveruseDetector.detect), the same double operations in the same order (built with
 * -ffp-contract=off); whether an update is due. Python (packet_core.py, _CompiledEstimator)
 * runs only on flags: a group's bytes into its window, the rate control on an update. */
#define GV_REMB_SSRC 1   /* an SSRC other than the last one: Python lists it */
#define GV_REMB_RESET 2  /* a silence longer than the window: Python forgets its closed groups */
#define GV_REMB_CLOSED 4 /* a group closed: its bytes (closed_pending*) go into Python's window */
#define GV_REMB_UPDATE 8 /* an update is due: Python runs the rate control */
#define GV_REMB_WINDOW_MS 1000
#define GV_REMB_GROUP_LENGTH ((5LL << 26) / 1000) /* aiortc.rate: 5 ms of send time, 26 fraction bits */
#define GV_REMB_BURST_MS 5
#define GV_REMB_HISTORY 60   /* MIN_FRAME_PERIOD_HISTORY_LENGTH */
#define GV_REMB_MIN_DELTAS 60
#define GV_REMB_MAX_DELTAS 1000
#define GV_REMB_MAX_ADAPT_OFFSET_MS 15
#define GV_NORMAL 0 /* aiortc.rate.BandwidthUsage */
#define GV_UNDERUSING 1
#define GV_OVERUSING 2
#define GV_HALF 0x80000000u

typedef struct {
    int started, overusing, has_update, has_ssrc;
    uint32_t first, last, ssrc;  /* the current group's first and last send time (abs-send-time << 8) */
    int64_t arrival, size;       /* its last arrival (ms) and bytes */
    int64_t pending, pending_first, origin;
    int64_t last_update, feedback_interval, reduce_interval;
    int64_t closed_pending, closed_pending_first;
    int has_previous;            /* the previous closed group: last send time, arrival, bytes */
    uint32_t previous_last;
    int64_t previous_arrival, previous_size;
    /* OveruseEstimator */
    double e00, e01, e10, e11, offset, previous_offset, slope, avg_noise, var_noise;
    int deltas, history_length, history_at;
    double history[GV_REMB_HISTORY];
    double noise0, noise1;       /* its process noise */
    /* OveruseDetector */
    int hypothesis, overuse_counter, has_overuse_time, has_threshold_update;
    double overuse_time, detector_offset, threshold;
    int64_t threshold_update;
    double k_up, k_down, overuse_time_threshold;
} gv_remb;

void gv_remb_init(gv_remb *r, int64_t feedback_interval, int64_t reduce_interval) {
    memset(r, 0, sizeof *r);
    r->feedback_interval = feedback_interval;
    r->reduce_interval = reduce_interval;
    r->e00 = 100.0;
    r->e11 = 0.1;
    r->slope = 1.0 / 64;
    r->var_noise = 50.0;
    r->noise0 = 1e-13;
    r->noise1 = 1e-3;
    r->threshold = 12.5;
    r->k_up = 0.0087;
    r->k_down = 0.039;
    r->overuse_time_threshold = 10;
}

static void remb_noise(gv_remb *r, double residual, double ts_delta) {
    double alpha = r->deltas > 10 * 30 ? 0.002 : 0.01;
    double beta = pow(1 - alpha, ts_delta * 30.0 / 1000.0);
    r->avg_noise = beta * r->avg_noise + (1 - beta) * residual;
    r->var_noise = beta * r->var_noise + (1 - beta) * pow(r->avg_noise - residual, 2.0);
    if (r->var_noise < 1)
        r->var_noise = 1;
}

static void remb_estimate(gv_remb *r, int64_t time_delta_ms, double ts_delta_ms, int64_t size_delta) {
    int hypothesis = r->hypothesis;
    r->history[r->history_at] = ts_delta_ms;
    r->history_at = (r->history_at + 1) % GV_REMB_HISTORY;
    if (r->history_length < GV_REMB_HISTORY)
        r->history_length++;
    double min_frame_period = r->history[0];
    for (int i = 1; i < r->history_length; i++)
        if (r->history[i] < min_frame_period)
            min_frame_period = r->history[i];
    double t_ts_delta = (double)time_delta_ms - ts_delta_ms;
    if (r->deltas < GV_REMB_MAX_DELTAS)
        r->deltas++;
    r->e00 += r->noise0;
    r->e11 += r->noise1;
    if ((hypothesis == GV_OVERUSING && r->offset < r->previous_offset)
        || (hypothesis == GV_UNDERUSING && r->offset > r->previous_offset))
        r->e11 += 10 * r->noise1;
    double h0 = (double)size_delta, h1 = 1.0;
    double eh0 = r->e00 * h0 + r->e01 * h1, eh1 = r->e10 * h0 + r->e11 * h1;
    double residual = t_ts_delta - r->slope * h0 - r->offset;
    if (hypothesis == GV_NORMAL) {
        double max_residual = 3.0 * sqrt(r->var_noise);
        if (fabs(residual) < max_residual)
            remb_noise(r, residual, min_frame_period);
        else
            remb_noise(r, residual < 0 ? -max_residual : max_residual, min_frame_period);
    }
    double denom = r->var_noise + h0 * eh0 + h1 * eh1;
    double k0 = eh0 / denom, k1 = eh1 / denom;
    double ikh00 = 1.0 - k0 * h0, ikh01 = -k0 * h1, ikh10 = -k1 * h0, ikh11 = 1.0 - k1 * h1;
    double e00 = r->e00, e01 = r->e01;
    r->e00 = e00 * ikh00 + r->e10 * ikh01;
    r->e01 = e01 * ikh00 + r->e11 * ikh01;
    r->e10 = e00 * ikh10 + r->e10 * ikh11;
    r->e11 = e01 * ikh10 + r->e11 * ikh11;
    r->previous_offset = r->offset;
    r->slope += k0 * residual;
    r->offset += k1 * residual;
}

/* OveruseDetector.detect: the usage it returns (its state is left as it was with < 2 deltas). */
static int remb_detect(gv_remb *r, double ts_delta_ms, int64_t now) {
    if (r->deltas < 2)
        return GV_NORMAL;
    double offset = r->offset;
    double t = (r->deltas < GV_REMB_MIN_DELTAS ? r->deltas : GV_REMB_MIN_DELTAS) * offset;
    if (t > r->threshold) {
        if (!r->has_overuse_time) {
            r->overuse_time = ts_delta_ms / 2;
            r->has_overuse_time = 1;
        } else {
            r->overuse_time += ts_delta_ms;
        }
        r->overuse_counter++;
        if (r->overuse_time > r->overuse_time_threshold && r->overuse_counter > 1 && offset >= r->detector_offset) {
            r->overuse_counter = 0;
            r->overuse_time = 0;
            r->hypothesis = GV_OVERUSING;
        }
    } else {
        r->overuse_counter = 0;
        r->has_overuse_time = 0;
        r->overuse_time = 0;
        r->hypothesis = t < -r->threshold ? GV_UNDERUSING : GV_NORMAL;
    }
    r->detector_offset = offset;
    /* update_threshold */
    if (!r->has_threshold_update) {
        r->threshold_update = now;
        r->has_threshold_update = 1;
    }
    if (fabs(t) > r->threshold + GV_REMB_MAX_ADAPT_OFFSET_MS) {
        r->threshold_update = now;
        return r->hypothesis;
    }
    double k = fabs(t) < r->threshold ? r->k_down : r->k_up;
    int64_t elapsed = now - r->threshold_update < 100 ? now - r->threshold_update : 100;
    r->threshold += k * (fabs(t) - r->threshold) * (double)elapsed;
    r->threshold = r->threshold > 600 ? 600 : r->threshold;
    r->threshold = r->threshold < 6 ? 6 : r->threshold;
    r->threshold_update = now;
    return r->hypothesis;
}

static void remb_close_group(gv_remb *r, int64_t now) {
    if (r->has_previous) {
        double ts_delta_ms = (double)(uint32_t)(r->last - r->previous_last) * (1000.0 / (double)(1 << 26));
        remb_estimate(r, r->arrival - r->previous_arrival, ts_delta_ms, r->size - r->previous_size);
        r->overusing = remb_detect(r, ts_delta_ms, now) == GV_OVERUSING;
    }
    r->has_previous = 1;
    r->previous_last = r->last;
    r->previous_arrival = r->arrival;
    r->previous_size = r->size;
    r->closed_pending_first = r->pending_first;
    r->closed_pending = r->pending;
    r->pending = 0;
}

int gv_remb_add(gv_remb *r, int64_t arrival, uint32_t abs_send_time, int size, uint32_t ssrc) {
    uint32_t timestamp = abs_send_time << 8;
    int flags = 0;
    if (!r->has_ssrc || ssrc != r->ssrc) {
        r->ssrc = ssrc;
        r->has_ssrc = 1;
        flags |= GV_REMB_SSRC;
    }
    if (!r->started) {
        r->started = 1;
        r->first = r->last = timestamp;
        r->origin = arrival;
    } else if (arrival - r->arrival > GV_REMB_WINDOW_MS) {
        r->pending = 0;
        r->origin = arrival;
        flags |= GV_REMB_RESET;
    }
    uint32_t from_first = timestamp - r->first;
    if (from_first < GV_HALF) { /* else out of order: not part of any group */
        uint32_t since_last = timestamp - r->last;
        /* Python's round(): half to even, as nearbyint in the default rounding mode */
        double since_last_ms = nearbyint(since_last * (1000.0 / (double)(1 << 26)));
        int64_t arrival_delta = arrival - r->arrival;
        int burst = since_last_ms == 0 || ((double)arrival_delta < since_last_ms && arrival_delta <= GV_REMB_BURST_MS);
        if (!burst && from_first > GV_REMB_GROUP_LENGTH) {
            remb_close_group(r, arrival);
            r->first = r->last = timestamp;
            r->size = 0;
            flags |= GV_REMB_CLOSED;
        } else if (since_last > 0 && since_last < GV_HALF) {
            r->last = timestamp;
        }
        r->size += size;
        r->arrival = arrival;
    }
    if (!r->pending)
        r->pending_first = arrival;
    r->pending += size;
    if (!r->has_update || arrival - r->last_update > r->feedback_interval
        || (r->overusing && arrival - r->last_update >= r->reduce_interval))
        flags |= GV_REMB_UPDATE;
    return flags;
}
