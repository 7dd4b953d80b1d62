"""A small fit for valgrind memcheck: every kernel, both dtypes and layouts, both losses, weights,
two OpenMP threads, gradient descent and Newton. Run it as the README says ("Memory safety")."""
import numpy as np

import gdfast

rng = np.random.default_rng(0)
for dtype in (np.float64, np.float32):
    for order in ("C", "F"):
        X = np.asarray(rng.standard_normal((300, 5)), dtype=dtype, order=order)
        labels = (X[:, 0] + rng.standard_normal(300) > 0).astype(float)
        for loss, y in (("log_loss", labels), ("squared_error", X[:, 1].astype(float))):
            obj = gdfast.Objective(X, y, loss=loss, alpha=1e-2, n_threads=2,
                                   sample_weight=rng.uniform(0.5, 2.0, 300))
            w = np.full(obj.n_params, 0.1)
            obj.cost_gradient_hessian(w)
            obj.hessp(w, np.ones(obj.n_params))
            z, r, h, out = np.empty(300), np.empty(300), np.empty(300), np.empty(obj.n_params)
            obj._kernel.linear(w, z)
            obj._kernel.loss_from_z(z, r, h)
            obj._kernel.transpose(r, out)
            obj._kernel.hessp_weighted(h, w, out)
            gd = gdfast.minimize(obj, method="gd", max_iter=50)
            newton = gdfast.minimize(obj, method="newton")
            assert np.all(np.isfinite(gd.w)) and newton.converged, (gd, newton)
print("valgrind_fit: ok")
