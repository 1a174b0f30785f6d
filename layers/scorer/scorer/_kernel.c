/* The scorer's compiled kernel: each user's running top k over blocks of scores, seen items masked, and the
 * running log-sum-exp of Personalize's softmax, while the block is in cache. Exact: the k best by (score
 * descending, item ascending), NaN and -inf never chosen and counting zero in the softmax.
 *
 * A plain CPython extension (buffer protocol, no numpy headers), built ahead of time by layers/build/layer.mk and
 * `make kernel`; it releases the GIL, so threads score users side by side. scorer/kernel.py is its Python side, and
 * scorer/topk.py the numpy reference it is tested against.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>

#define LANES 8
typedef float vf __attribute__((vector_size(LANES * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(LANES * sizeof(int32_t))));

static inline vf load(const float *x) {
    vf v;
    __builtin_memcpy(&v, x, sizeof v);
    return v;
}

static inline vf broadcast(float value) {
    vf v;
    for (int t = 0; t < LANES; t++) v[t] = value;
    return v;
}

static inline vf blend(vi mask, vf yes, vf no) { return (vf)((mask & (vi)yes) | (~mask & (vi)no)); }

static inline int any(vi mask) {
    uint64_t words[sizeof mask / sizeof(uint64_t)];
    __builtin_memcpy(words, &mask, sizeof mask);
    uint64_t folded = 0;
    for (size_t n = 0; n < sizeof words / sizeof *words; n++) folded |= words[n];
    return folded != 0;
}

/* worse(a, b): a ranks below b. */
static inline int worse(float av, int32_t ai, float bv, int32_t bi) { return av < bv || (av == bv && ai > bi); }

/* Replace the heap's root (its worst entry) with (v, i), then sift down. */
static inline void replace_root(float *hv, int32_t *hi, Py_ssize_t k, float v, int32_t i) {
    Py_ssize_t at = 0;
    for (;;) {
        Py_ssize_t child = 2 * at + 1;
        if (child >= k) break;
        if (child + 1 < k && worse(hv[child + 1], hi[child + 1], hv[child], hi[child])) child++;
        if (!worse(hv[child], hi[child], v, i)) break;
        hv[at] = hv[child];
        hi[at] = hi[child];
        at = child;
    }
    hv[at] = v;
    hi[at] = i;
}

/* e^x for x <= 0 (scores minus their running maximum), to about 2e-7 relative, a vector at a time; 0 where the
 * score was -inf or NaN (``keep`` clear). Written once for the vector widths segment_sum uses. */
#define EXP_NONPOSITIVE(NAME, VF, VI)                                                                          \
    static inline VF NAME(VF x, VI keep) {                                                                     \
        VI low = x < -87.0f;                                                                                   \
        x = (VF)((low & (VI)(x - x - 87.0f)) | (~low & (VI)x));                                               \
        VF n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */                \
        VF f = x - n * 0.693145751953125f;                                                                     \
        f = f - n * 1.428606765330187e-06f;                                                                    \
        VF p = 1.0f + f * (1.0f + f * (0.5f + f * (0.166666672f + f * (0.0416666418f + f * (0.00833336f +       \
                                                                                           f * 0.00138888f))))); \
        VI scale = (__builtin_convertvector(n, VI) + 127) << 23;                                               \
        return (VF)(keep & (VI)(p * (VF)scale));                                                               \
    }

typedef float wf __attribute__((vector_size(64)));
typedef int32_t wi __attribute__((vector_size(64)));
EXP_NONPOSITIVE(exp_nonpositive, wf, wi)

/* Scan scores[from, to) of one row against the heap's root, 2 × LANES at a time: a chunk with no score above the
 * root (nearly all of them, once the heap is warm) costs two compares. */
__attribute__((target_clones("avx2", "default")))
static void scan(const float *x, Py_ssize_t from, Py_ssize_t to, Py_ssize_t offset, float *hv, int32_t *hi,
                 Py_ssize_t k) {
    float threshold = hv[0];
    Py_ssize_t j = from;
    for (; j + 2 * LANES <= to; j += 2 * LANES) {
        vf limit = broadcast(threshold);
        if (!any((load(x + j) > limit) | (load(x + j + LANES) > limit))) continue;
        for (int t = 0; t < 2 * LANES; t++) {
            if (x[j + t] > threshold) {
                replace_root(hv, hi, k, x[j + t], (int32_t)(offset + j + t));
                threshold = hv[0];
            }
        }
    }
    for (; j < to; j++) {
        if (x[j] > threshold) {
            replace_root(hv, hi, k, x[j], (int32_t)(offset + j));
            threshold = hv[0];
        }
    }
}

__attribute__((target_clones("avx2", "default")))
static float segment_max(const float *x, Py_ssize_t from, Py_ssize_t to, float m) {
    Py_ssize_t j = from;
    if (to - from >= LANES) {
        vf best = broadcast(m);
        for (; j + LANES <= to; j += LANES) {
            vf v = load(x + j);
            best = blend(v > best, v, best); /* NaN never wins */
        }
        for (int t = 0; t < LANES; t++) m = best[t] > m ? best[t] : m;
    }
    for (; j < to; j++) m = x[j] > m ? x[j] : m;
    return m;
}

#define WIDE (sizeof(wf) / sizeof(float))

/* The sum of e^(x - m) over scores[from, to) that are neither -inf nor NaN, WIDE at a time. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static float segment_sum(const float *x, Py_ssize_t from, Py_ssize_t to, float m) {
    wf lanes = {0}, top = lanes + m, floor = lanes - INFINITY;
    Py_ssize_t j = from;
    for (; j + (Py_ssize_t)WIDE <= to; j += WIDE) {
        wf v;
        __builtin_memcpy(&v, x + j, sizeof v);
        lanes += exp_nonpositive(v - top, v > floor);
    }
    if (j < to) {
        float rest[WIDE];
        for (size_t t = 0; t < WIDE; t++) rest[t] = j + (Py_ssize_t)t < to ? x[j + t] : -INFINITY;
        wf v;
        __builtin_memcpy(&v, rest, sizeof v);
        lanes += exp_nonpositive(v - top, v > floor);
    }
    float sum = 0.0f;
    for (size_t t = 0; t < WIDE; t++) sum += lanes[t];
    return sum;
}

typedef struct {
    Py_buffer scores, heap_values, heap_items, indptr, seen, cursor, lse_max, lse_sum;
} Buffers;

static void release(Buffers *b) {
    Py_buffer *all[] = {&b->scores, &b->heap_values, &b->heap_items, &b->indptr,
                        &b->seen,   &b->cursor,      &b->lse_max,    &b->lse_sum};
    for (size_t n = 0; n < sizeof all / sizeof *all; n++)
        if (all[n]->obj) PyBuffer_Release(all[n]);
}

PyDoc_STRVAR(update_doc,
             "update(scores, rows, width, offset, k, heap_values, heap_items, indptr, seen, cursor, lse_max, lse_sum,"
             " softmax)\n\nFold a (rows x width) float32 block of scores, items offset..offset+width, into each row's"
             " min-heap of its k best (float32 values, int32 items). Row r's seen items are seen[indptr[r]:"
             "indptr[r+1]] (int64, sorted), read from cursor[r] on. With softmax, lse_max (float32) and lse_sum"
             " (float64) carry each row's running log-sum-exp.");

static PyObject *update(PyObject *Py_UNUSED(self), PyObject *args) {
    Buffers b = {0};
    Py_ssize_t rows, width, offset, k;
    int softmax;
    if (!PyArg_ParseTuple(args, "y*nnnnw*w*y*y*w*w*w*p", &b.scores, &rows, &width, &offset, &k, &b.heap_values,
                          &b.heap_items, &b.indptr, &b.seen, &b.cursor, &b.lse_max, &b.lse_sum, &softmax))
        return NULL;
    if (b.scores.len < (Py_ssize_t)(rows * width * sizeof(float)) ||
        b.heap_values.len < (Py_ssize_t)(rows * k * sizeof(float)) ||
        b.heap_items.len < (Py_ssize_t)(rows * k * sizeof(int32_t)) ||
        b.indptr.len < (Py_ssize_t)((rows + 1) * sizeof(int64_t)) ||
        b.cursor.len < (Py_ssize_t)(rows * sizeof(int64_t)) ||
        (softmax && (b.lse_max.len < (Py_ssize_t)(rows * sizeof(float)) ||
                     b.lse_sum.len < (Py_ssize_t)(rows * sizeof(double)))) ||
        k < 1 || offset + width > INT32_MAX) {
        release(&b);
        PyErr_SetString(PyExc_ValueError, "a buffer is smaller than its shape says, or k < 1");
        return NULL;
    }
    const float *scores = b.scores.buf;
    float *heap_values = b.heap_values.buf, *lse_max = b.lse_max.buf;
    int32_t *heap_items = b.heap_items.buf;
    const int64_t *indptr = b.indptr.buf, *seen = b.seen.buf;
    int64_t *cursor = b.cursor.buf;
    double *lse_sum = b.lse_sum.buf;
    Py_ssize_t seen_count = b.seen.len / (Py_ssize_t)sizeof(int64_t);

    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < rows; r++) {
        const float *x = scores + r * width;
        float *hv = heap_values + r * k;
        int32_t *hi = heap_items + r * k;
        int64_t p = cursor[r], end = indptr[r + 1] < seen_count ? indptr[r + 1] : seen_count;
        while (p < end && seen[p] < offset) p++;
        int64_t first_seen = p;
        float m = softmax ? lse_max[r] : -INFINITY, block_max = -INFINITY;
        /* The segments between seen items, each scanned for the top k (and its maximum, for the softmax). */
        Py_ssize_t from = 0;
        for (;;) {
            Py_ssize_t to = (p < end && seen[p] < offset + width) ? (Py_ssize_t)(seen[p] - offset) : width;
            scan(x, from, to, offset, hv, hi, k);
            if (softmax) block_max = segment_max(x, from, to, block_max);
            if (to == width) break;
            from = to + 1;
            p++;
        }
        cursor[r] = p;
        if (softmax && block_max > -INFINITY) {
            if (block_max > m) {
                lse_sum[r] = m > -INFINITY ? lse_sum[r] * exp((double)m - (double)block_max) : 0.0;
                m = lse_max[r] = block_max;
            }
            double sum = 0.0;
            p = first_seen;
            from = 0;
            for (;;) {
                Py_ssize_t to = (p < end && seen[p] < offset + width) ? (Py_ssize_t)(seen[p] - offset) : width;
                sum += segment_sum(x, from, to, m);
                if (to == width) break;
                from = to + 1;
                p++;
            }
            lse_sum[r] += sum;
        }
    }
    Py_END_ALLOW_THREADS

    release(&b);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {{"update", update, METH_VARARGS, update_doc}, {NULL, NULL, 0, NULL}};

static PyModuleDef_Slot slots[] = {
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED}, {0, NULL}};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_kernel",
    .m_doc = "The scorer's compiled top-k kernel.",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC PyInit__kernel(void) { return PyModuleDef_Init(&module); }
