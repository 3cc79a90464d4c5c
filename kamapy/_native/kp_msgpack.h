/* kp_msgpack: reading and writing the msgpack records Python stores in shm (usrloc's
 * contacts, tm's transactions), so a C fast path can edit a record in place of the
 * Python code that unpacks, changes and packs it. The writers give the bytes
 * msgpack-python (use_bin_type=True) gives for the same Python value: ints in their
 * shortest form, floats as float64, str as str, bytes as bin. */
#ifndef KP_MSGPACK_H
#define KP_MSGPACK_H

#include <stdint.h>
#include <string.h>

typedef const uint8_t *ptr;

static inline uint32_t be16(ptr p) { return (uint32_t)p[0] << 8 | p[1]; }
static inline uint32_t be32(ptr p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t be64(ptr p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

/* the end of the msgpack object at p, or NULL when malformed or truncated */
static inline ptr mp_next(ptr p, ptr end)
{
	uint64_t pending = 1;

	while (pending) {
		uint64_t n = 0, items = 0;
		unsigned hdr = 0;
		uint8_t c;

		if (p >= end)
			return NULL;
		c = *p++;
		pending--;
		if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
			continue;
		if (c <= 0x8f) {
			pending += 2u * (c & 0x0f);
			continue;
		}
		if (c <= 0x9f) {
			pending += c & 0x0f;
			continue;
		}
		if (c <= 0xbf) {
			n = c & 0x1f;
		} else {
			switch (c) {
			case 0xc4: case 0xd9: hdr = 1; break;
			case 0xc5: case 0xda: hdr = 2; break;
			case 0xc6: case 0xdb: hdr = 4; break;
			case 0xc7: hdr = 1; n = 1; break;
			case 0xc8: hdr = 2; n = 1; break;
			case 0xc9: hdr = 4; n = 1; break;
			case 0xca: n = 4; break;
			case 0xcb: n = 8; break;
			case 0xcc: case 0xd0: n = 1; break;
			case 0xcd: case 0xd1: n = 2; break;
			case 0xce: case 0xd2: n = 4; break;
			case 0xcf: case 0xd3: n = 8; break;
			case 0xd4: n = 2; break;
			case 0xd5: n = 3; break;
			case 0xd6: n = 5; break;
			case 0xd7: n = 9; break;
			case 0xd8: n = 17; break;
			case 0xdc: case 0xde: hdr = 2; break;
			case 0xdd: case 0xdf: hdr = 4; break;
			default: return NULL; /* 0xc1: never used */
			}
		}
		if (hdr) {
			uint64_t len;

			if ((uint64_t)(end - p) < hdr)
				return NULL;
			len = hdr == 1 ? p[0] : hdr == 2 ? be16(p) : be32(p);
			p += hdr;
			if (c == 0xdc || c == 0xdd)
				items = len;
			else if (c == 0xde || c == 0xdf)
				items = 2 * len;
			else
				n += len;
		}
		if ((uint64_t)(end - p) < n)
			return NULL;
		p += n;
		pending += items;
	}
	return p;
}

/* an array header: its count and the first item, or -1 */
static inline int64_t mp_array(ptr p, ptr end, ptr *first)
{
	if (p >= end)
		return -1;
	if ((*p & 0xf0) == 0x90) {
		*first = p + 1;
		return *p & 0x0f;
	}
	if (*p == 0xdc && end - p >= 3) {
		*first = p + 3;
		return be16(p + 1);
	}
	if (*p == 0xdd && end - p >= 5) {
		*first = p + 5;
		return be32(p + 1);
	}
	return -1;
}

/* a str: 1 with its bytes, else 0 (p..end is one whole object, mp_next checked it) */
static inline int mp_str(ptr p, ptr end, ptr *s, uint32_t *len)
{
	uint8_t c = *p;

	if ((c & 0xe0) == 0xa0) {
		*len = c & 0x1f;
		*s = p + 1;
	} else if (c == 0xd9) {
		*len = p[1];
		*s = p + 2;
	} else if (c == 0xda) {
		*len = be16(p + 1);
		*s = p + 3;
	} else if (c == 0xdb) {
		*len = be32(p + 1);
		*s = p + 5;
	} else {
		return 0;
	}
	return *s + *len <= end;
}

/* an int: 1 with its value, else 0 (bool and float too: the caller wants an int) */
static inline int mp_int(ptr p, int64_t *v)
{
	uint8_t c = *p;
	uint64_t u;

	if (c <= 0x7f) {
		*v = c;
	} else if (c >= 0xe0) {
		*v = (int8_t)c;
	} else {
		switch (c) {
		case 0xcc: *v = p[1]; break;
		case 0xcd: *v = be16(p + 1); break;
		case 0xce: *v = be32(p + 1); break;
		case 0xcf:
			u = be64(p + 1);
			if (u > INT64_MAX)
				return 0;
			*v = (int64_t)u;
			break;
		case 0xd0: *v = (int8_t)p[1]; break;
		case 0xd1: *v = (int16_t)be16(p + 1); break;
		case 0xd2: *v = (int32_t)be32(p + 1); break;
		case 0xd3: *v = (int64_t)be64(p + 1); break;
		default: return 0;
		}
	}
	return 1;
}

/* a number (int or float) as a double, and whether it was an int; 0: not a number */
static inline int mp_num(ptr p, double *d, int64_t *iv, int *is_int)
{
	union { uint64_t u; double d; } f8;
	union { uint32_t u; float f; } f4;

	if (mp_int(p, iv)) {
		*d = (double)*iv;
		*is_int = 1;
		return 1;
	}
	*is_int = 0;
	if (*p == 0xcb) {
		f8.u = be64(p + 1);
		*d = f8.d;
		return 1;
	}
	if (*p == 0xca) {
		f4.u = be32(p + 1);
		*d = f4.f;
		return 1;
	}
	return 0;
}

/* msgpack-python's encoding of an int: the shortest form */
static inline uint8_t *put_int(uint8_t *o, int64_t v)
{
	if (v >= 0) {
		uint64_t u = (uint64_t)v;
		if (u < 128) {
			*o++ = (uint8_t)u;
		} else if (u < 256) {
			*o++ = 0xcc;
			*o++ = (uint8_t)u;
		} else if (u < 65536) {
			*o++ = 0xcd;
			*o++ = (uint8_t)(u >> 8);
			*o++ = (uint8_t)u;
		} else if (u <= 0xffffffffu) {
			*o++ = 0xce;
			for (int s = 24; s >= 0; s -= 8)
				*o++ = (uint8_t)(u >> s);
		} else {
			*o++ = 0xcf;
			for (int s = 56; s >= 0; s -= 8)
				*o++ = (uint8_t)(u >> s);
		}
	} else if (v >= -32) {
		*o++ = (uint8_t)(int8_t)v;
	} else if (v >= -128) {
		*o++ = 0xd0;
		*o++ = (uint8_t)(int8_t)v;
	} else if (v >= -32768) {
		*o++ = 0xd1;
		*o++ = (uint8_t)((uint16_t)v >> 8);
		*o++ = (uint8_t)v;
	} else if (v >= INT32_MIN) {
		uint32_t u = (uint32_t)(int32_t)v;
		*o++ = 0xd2;
		for (int s = 24; s >= 0; s -= 8)
			*o++ = (uint8_t)(u >> s);
	} else {
		uint64_t u = (uint64_t)v;
		*o++ = 0xd3;
		for (int s = 56; s >= 0; s -= 8)
			*o++ = (uint8_t)(u >> s);
	}
	return o;
}

static inline uint8_t *put_str(uint8_t *o, const char *s, uint32_t n)
{
	if (n < 32) {
		*o++ = (uint8_t)(0xa0 | n);
	} else if (n < 256) {
		*o++ = 0xd9;
		*o++ = (uint8_t)n;
	} else if (n < 65536) {
		*o++ = 0xda;
		*o++ = (uint8_t)(n >> 8);
		*o++ = (uint8_t)n;
	} else {
		*o++ = 0xdb;
		for (int sh = 24; sh >= 0; sh -= 8)
			*o++ = (uint8_t)(n >> sh);
	}
	memcpy(o, s, n);
	return o + n;
}

/* a float64 (what msgpack-python packs a Python float as): 1 with its value, else 0 */
static inline int mp_f64(ptr p, double *d)
{
	union { uint64_t u; double d; } f8;

	if (*p != 0xcb)
		return 0;
	f8.u = be64(p + 1);
	*d = f8.d;
	return 1;
}

static inline uint8_t *put_f64(uint8_t *o, double d)
{
	union { uint64_t u; double d; } f8;

	f8.d = d;
	*o++ = 0xcb;
	for (int s = 56; s >= 0; s -= 8)
		*o++ = (uint8_t)(f8.u >> s);
	return o;
}

/* a bin header for n bytes (the bytes follow) */
static inline uint8_t *put_bin_header(uint8_t *o, uint32_t n)
{
	if (n < 256) {
		*o++ = 0xc4;
		*o++ = (uint8_t)n;
	} else if (n < 65536) {
		*o++ = 0xc5;
		*o++ = (uint8_t)(n >> 8);
		*o++ = (uint8_t)n;
	} else {
		*o++ = 0xc6;
		for (int s = 24; s >= 0; s -= 8)
			*o++ = (uint8_t)(n >> s);
	}
	return o;
}

#endif
