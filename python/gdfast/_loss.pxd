# Per-sample losses of a linear model, as functions of the raw prediction z.
#
# Each returns loss(z, y) and writes d loss/dz to r[0] and d2 loss/dz2 to h[0]. Both are
# written so that they stay finite and accurate for any finite z. Inline, nogil and
# exception-free, so that a kernel (in gdfast or in a package that cimports this file) can call
# them in its innermost loop.

from libc.math cimport exp, log1p, fabs

cdef inline double log_loss_terms(double z, double y, double* r, double* h) noexcept nogil:
    # loss = log(1 + exp(z)) - y z = max(z, 0) - y z + log1p(exp(-|z|)).
    # For y in {0, 1} the first two terms cancel exactly when they should (y = 1, z > 0), so the
    # loss is exact even where it is tiny; exp(-|z|) never overflows.
    cdef double e = exp(-fabs(z))
    cdef double q = e / (1.0 + e)          # sigmoid(-|z|), in (0, 1/2]
    # d loss / dz = sigmoid(z) - y. With p = 1 - q for z >= 0, write (1 - y) - q rather than
    # (1 - q) - y so that a confident correct prediction gives -q exactly instead of 0.
    if z >= 0:
        r[0] = (1.0 - y) - q
    else:
        r[0] = q - y
    h[0] = q * (1.0 - q)                   # p (1 - p), the same for both signs of z
    return (z if z > 0 else 0.0) - y * z + log1p(e)


cdef inline double squared_terms(double z, double y, double* r, double* h) noexcept nogil:
    cdef double res = z - y
    r[0] = 2.0 * res
    h[0] = 2.0
    return res * res
