# Per-sample losses of a linear model, as functions of the raw prediction z.
#
# Each returns loss(z, y) and writes d loss/dz to r[0] and d2 loss/dz2 to h[0]. They stay finite
# and accurate for any finite z. Inline, nogil and exception-free, so that a kernel (in gdfast or
# in a package that cimports this file) can call them in its innermost loop.
#
# exp and log1p are our own: libm's are scalar calls that no compiler vectorises without
# -ffast-math, and they cost more than the rest of the per-row work together. Both are accurate
# to a few ulp on the ranges used here (tests/test_elementary.py compares them with libm).
#
# The bodies are plain C on purpose: Cython turns `a if c else b` into if/else statements, which
# GCC's vectoriser rejects as control flow; C's ?: stays a select, so a loop over a block of rows
# that calls these functions vectorises at plain -O3 with no -ffast-math.

cdef extern from "gdfast/_loss.h":
    double exp_nonpos "gd_exp_nonpos"(double x) noexcept nogil
    double log1p_unit "gd_log1p_unit"(double e, double u, double inv_u) noexcept nogil
    double log_loss_terms "gd_log_loss_terms"(double z, double y, double* r, double* h) noexcept nogil
    double squared_terms "gd_squared_terms"(double z, double y, double* r, double* h) noexcept nogil
    double tweedie_terms "gd_tweedie_terms"(double z, double y, double power, double* r,
                                            double* h) noexcept nogil
    enum:
        # the codes of the first two losses, under the names other packages cimport
        SQUARED_ERROR "GD_LOSS_squared_error"
        LOG_LOSS "GD_LOSS_log_loss"
    int n_losses "gd_n_losses"() noexcept nogil
    const char* loss_name "gd_loss_name"(int code) noexcept nogil
    double loss_terms "gd_loss_terms"(int code, double z, double y, double* r, double* h) noexcept nogil
    void rows_terms "gd_rows_terms"(int code, const double* y, Py_ssize_t m, double* z, double* r,
                                    double* h) noexcept nogil
    # the same for a loss with a parameter (gdfast.losses.Loss.param: Tweedie's power; the
    # functions above pass 0)
    double loss_terms_param "gd_loss_terms_param"(int code, double param, double z, double y,
                                                  double* r, double* h) noexcept nogil
    void rows_terms_param "gd_rows_terms_param"(int code, double param, const double* y,
                                                Py_ssize_t m, double* z, double* r,
                                                double* h) noexcept nogil
