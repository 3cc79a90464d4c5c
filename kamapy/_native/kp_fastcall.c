/* kamapy._native._fastcall: the C calls every message makes, as METH_FASTCALL functions.
 *
 * cffi's wrapper for an API-mode function packs the arguments into a tuple, converts
 * each through its type machinery and releases the GIL around the call: ~1,000
 * instructions plus ~190 per argument (callgrind), more than the scan or the reply
 * builder costs itself. These entry points read the arguments straight from the vector
 * (lengths from the bytes objects, not passed beside them). The scan and sl's reply keep
 * the GIL: neither blocks (the scan computes; sl's sendto is on a UDP socket, as
 * Kamailio's udp_send is, and returns at once on Linux). registrar's refresh takes the
 * AOR lock, which another thread of this process may hold: it lets the GIL go, as
 * cffi does.
 *
 * The C functions themselves stay in the cffi module (one copy of each, with its static
 * tables): kamapy._native binds their addresses here once (bind()), so this file holds
 * only argument handling. Built with the limited API, like the cffi module (abi3).
 */
#define Py_LIMITED_API 0x030B0000
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kp_regrefresh.h"
#include "kp_sipreply.h"
#include "kp_sipscan.h"

/* the functions' own types, from their headers */
static __typeof__(kp_sip_scan) *p_scan;
static __typeof__(kp_sl_reply_send) *p_sl_send;
static __typeof__(kp_reg_refresh) *p_reg_refresh;

/* per-thread output buffers, grown to what a call needs (no thread shares the main
 * thread's, as the cffi callers had to arrange) */
static __thread int32_t *scan_out;
static __thread Py_ssize_t scan_cap;
static __thread char *reply_out;
static __thread Py_ssize_t reply_cap;

#define REPLY_CAP0 16384

static void *grow(void *p, Py_ssize_t *cap, Py_ssize_t want, size_t unit)
{
	void *q;

	if (*cap >= want)
		return p;
	q = realloc(p, (size_t)want * unit);
	if (q == NULL)
		return NULL;
	*cap = want;
	return q;
}

static int bytes_arg(PyObject *o, const char **s, int *n)
{
	char *p;
	Py_ssize_t len;

	if (PyBytes_AsStringAndSize(o, &p, &len) < 0)
		return -1;
	if (len > INT32_MAX) {
		PyErr_SetString(PyExc_OverflowError, "bytes too long");
		return -1;
	}
	*s = p;
	*n = (int)len;
	return 0;
}

/* a str argument the reply copies as latin-1: its UTF-8 form when that is the same
 * bytes (ASCII, every reason phrase and IP in practice; 1 then), 0 for any other str
 * (the caller answers KP_SR_FALLBACK and Python encodes it); bytes are taken as they
 * are. -1 with an exception for anything else. */
static int text_arg(PyObject *o, const char **s, int *n)
{
	Py_ssize_t len;

	if (PyBytes_Check(o))
		return bytes_arg(o, s, n) < 0 ? -1 : 1;
	*s = PyUnicode_AsUTF8AndSize(o, &len);
	if (*s == NULL) {
		if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
			return -1;
		PyErr_Clear();  /* a lone surrogate: not ASCII either */
		return 0;
	}
	if (len != PyUnicode_GetLength(o))
		return 0;
	if (len > INT32_MAX) {
		PyErr_SetString(PyExc_OverflowError, "str too long");
		return -1;
	}
	*n = (int)len;
	return 1;
}

static int int_arg(PyObject *o, int *v)
{
	long x = PyLong_AsLong(o);

	if (x == -1 && PyErr_Occurred())
		return -1;
	if (x < INT32_MIN || x > INT32_MAX) {
		PyErr_SetString(PyExc_OverflowError, "int out of range");
		return -1;
	}
	*v = (int)x;
	return 0;
}

static int nargs_ok(const char *name, Py_ssize_t n, Py_ssize_t want)
{
	if (n == want)
		return 1;
	PyErr_Format(PyExc_TypeError, "%s() takes %zd arguments (%zd given)", name, want, n);
	return 0;
}

static int ptr_arg(PyObject *o, void **p)
{
	*p = PyLong_AsVoidPtr(o);
	return *p == NULL && PyErr_Occurred() ? -1 : 0;
}

/* bind(scan, sl_reply_send, reg_refresh): the addresses of kp_sip_scan,
 * kp_sl_reply_send and kp_reg_refresh */
static PyObject *fc_bind(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
	void *a, *b, *c;

	if (!nargs_ok("bind", n, 3) || ptr_arg(args[0], &a) < 0 || ptr_arg(args[1], &b) < 0
			|| ptr_arg(args[2], &c) < 0)
		return NULL;
	p_scan = (__typeof__(p_scan))a;
	p_sl_send = (__typeof__(p_sl_send))b;
	p_reg_refresh = (__typeof__(p_reg_refresh))c;
	Py_RETURN_NONE;
}

/* scan(data) -> the scan's int32s as bytes, or kp_sip_scan's negative code (an int).
 * The buffer is sized for the most header lines data can hold: never KP_SS_ECAP. */
static PyObject *fc_scan(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
	const char *buf;
	int len, r;
	Py_ssize_t want;
	int32_t *out;

	if (!nargs_ok("scan", n, 1) || bytes_arg(args[0], &buf, &len) < 0)
		return NULL;
	if (p_scan == NULL) {
		PyErr_SetString(PyExc_RuntimeError, "_fastcall is not bound");
		return NULL;
	}
	want = KP_SS_HDR + KP_SS_HREC * ((Py_ssize_t)len / 2 + 2);
	out = grow(scan_out, &scan_cap, want, sizeof(int32_t));
	if (out == NULL)
		return PyErr_NoMemory();
	scan_out = out;
	/* the slots a scan leaves unwritten read 0, as in a fresh buffer, not the last
	 * message's values: the output depends on data alone */
	memset(out, 0, KP_SS_HDR * sizeof(int32_t));
	r = p_scan(buf, len, out, (int)scan_cap);
	if (r < 0)
		return PyLong_FromLong(r);
	return PyBytes_FromStringAndSize((const char *)out, (Py_ssize_t)r * 4);
}

/* sl_reply_send(fd, af, data, scan, code, reason, prefix, ip, port, force_rport, extra,
 * server, body) -> kp_sl_reply_send's result (bytes sent, KP_SR_FALLBACK, or
 * KP_SR_ESEND - errno). reason, ip and extra may be str (see text_arg), the others
 * are bytes. A reply bigger than this thread's buffer is built again in a
 * bigger one, so KP_SR_ECAP never comes back. */
static PyObject *fc_sl_reply_send(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
	int fd, af, code, port, force, dl, sl, rl, pl, il, el, vl, bl, r;  /* sl: the scan's length, unused */
	int tr, ti, te;
	const char *d, *s, *re, *pr, *ip, *ex, *sv, *bo;
	Py_ssize_t want;
	char *out;

	if (!nargs_ok("sl_reply_send", n, 13))
		return NULL;
	if (int_arg(args[0], &fd) < 0 || int_arg(args[1], &af) < 0 || bytes_arg(args[2], &d, &dl) < 0
			|| bytes_arg(args[3], &s, &sl) < 0 || int_arg(args[4], &code) < 0
			|| (tr = text_arg(args[5], &re, &rl)) < 0 || bytes_arg(args[6], &pr, &pl) < 0
			|| (ti = text_arg(args[7], &ip, &il)) < 0 || int_arg(args[8], &port) < 0
			|| int_arg(args[9], &force) < 0 || (te = text_arg(args[10], &ex, &el)) < 0
			|| bytes_arg(args[11], &sv, &vl) < 0 || bytes_arg(args[12], &bo, &bl) < 0)
		return NULL;
	if (!tr || !ti || !te)
		return PyLong_FromLong(KP_SR_FALLBACK);  /* a str that is not ASCII: Python encodes it */
	if (p_sl_send == NULL) {
		PyErr_SetString(PyExc_RuntimeError, "_fastcall is not bound");
		return NULL;
	}
	(void)sl;
	out = grow(reply_out, &reply_cap, REPLY_CAP0, 1);
	if (out == NULL)
		return PyErr_NoMemory();
	reply_out = out;
	r = p_sl_send(fd, af, d, dl, s, code, re, rl, pr, pl, ip, il, port, force, ex, el, sv, vl,
			bo, bl, out, (int)reply_cap);
	if (r == KP_SR_ECAP) {
		/* surely enough: every input copied once, plus the tag and Via parameters */
		want = (Py_ssize_t)dl + rl + pl + il + el + vl + bl + 4096;
		out = grow(reply_out, &reply_cap, want, 1);
		if (out == NULL)
			return PyErr_NoMemory();
		reply_out = out;
		r = p_sl_send(fd, af, d, dl, s, code, re, rl, pr, pl, ip, il, port, force, ex, el, sv, vl,
				bo, bl, out, (int)reply_cap);
	}
	return PyLong_FromLong(r);
}

/* reg_refresh(ht, lock, key, ul_nums, data, scan, sock, reg_nums, work, out, res) ->
 * kp_reg_refresh's result; ht, lock and the three buffers are addresses (ints), the
 * rest bytes. The buffers are the caller's (usrloc's per-process ones). */
static PyObject *fc_reg_refresh(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
	void *ht, *lock, *work, *out, *res;
	const char *key, *uln, *data, *scan, *sock, *rgn;
	int kl, ul, dl, sl, kk, rl, r;

	if (!nargs_ok("reg_refresh", n, 11))
		return NULL;
	if (ptr_arg(args[0], &ht) < 0 || ptr_arg(args[1], &lock) < 0 || bytes_arg(args[2], &key, &kl) < 0
			|| bytes_arg(args[3], &uln, &ul) < 0 || bytes_arg(args[4], &data, &dl) < 0
			|| bytes_arg(args[5], &scan, &sl) < 0 || bytes_arg(args[6], &sock, &kk) < 0
			|| bytes_arg(args[7], &rgn, &rl) < 0 || ptr_arg(args[8], &work) < 0
			|| ptr_arg(args[9], &out) < 0 || ptr_arg(args[10], &res) < 0)
		return NULL;
	if (p_reg_refresh == NULL) {
		PyErr_SetString(PyExc_RuntimeError, "_fastcall is not bound");
		return NULL;
	}
	/* the numbers' blocks are read whole: short ones would be read past their end */
	if (ul < 8 * KP_UN_NARGS || rl < 8 * KP_RN_NARGS) {
		PyErr_SetString(PyExc_ValueError, "reg_refresh: ul_nums or reg_nums too short");
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	r = p_reg_refresh(ht, lock, key, uln, data, scan, sock, rgn, work, out, res);
	Py_END_ALLOW_THREADS
	return PyLong_FromLong(r);
}

/* the initial size of a thread's reply buffer (a test grows past it) */
static PyObject *fc_reply_cap(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
	return PyLong_FromSsize_t(reply_cap);
}

static PyMethodDef methods[] = {
	{"bind", (PyCFunction)(void (*)(void))fc_bind, METH_FASTCALL,
	 "bind(scan, sl_reply_send): the C functions' addresses"},
	{"scan", (PyCFunction)(void (*)(void))fc_scan, METH_FASTCALL,
	 "scan(data) -> bytes of int32s, or a negative int (kp_sip_scan)"},
	{"sl_reply_send", (PyCFunction)(void (*)(void))fc_sl_reply_send, METH_FASTCALL,
	 "sl_reply_send(fd, af, data, scan, code, reason, prefix, ip, port, force_rport, extra, "
	 "server, body) -> int (kp_sl_reply_send)"},
	{"reg_refresh", (PyCFunction)(void (*)(void))fc_reg_refresh, METH_FASTCALL,
	 "reg_refresh(ht, lock, key, ul_nums, data, scan, sock, reg_nums, work, out, res) -> int "
	 "(kp_reg_refresh; pointers as ints)"},
	{"reply_cap", (PyCFunction)(void (*)(void))fc_reply_cap, METH_FASTCALL,
	 "reply_cap() -> this thread's reply buffer size"},
	{NULL, NULL, 0, NULL}
};

static struct PyModuleDef module = {
	PyModuleDef_HEAD_INIT, "_fastcall",
	"METH_FASTCALL entry points for the per-message C calls (see kp_fastcall.c)", -1, methods,
	NULL, NULL, NULL, NULL
};

PyMODINIT_FUNC PyInit__fastcall(void)
{
	return PyModule_Create(&module);
}
