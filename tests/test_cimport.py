"""The public Cython API: a downstream extension cimports gdfast.kernels and computes what the
Python API computes."""
import subprocess
import sys
import textwrap

import numpy as np

import gdfast

DOWNSTREAM = textwrap.dedent('''
    from gdfast.kernels cimport Problem, LOG_LOSS, block_linear, block_loss, block_transpose_add

    def cost_gradient(const double[:, ::1] X, const double[::1] y, const double[::1] w,
                      double[::1] grad, double[::1] z, double[::1] r, double[::1] h):
        """Mean log loss and its gradient over all rows, as one block, with an intercept."""
        cdef Problem P
        cdef Py_ssize_t j, n = X.shape[0], d = X.shape[1]
        cdef double total
        P.X = &X[0, 0]
        P.f32 = False
        P.n = n
        P.d = d
        P.rs = d
        P.cs = 1
        P.y = &y[0]
        P.sw = NULL
        P.scale = 1.0 / n
        P.loss = LOG_LOSS
        P.fit_intercept = True
        P.alpha = 0.0
        P.xmax = 0.0
        for j in range(d + 1):
            grad[j] = 0
        with nogil:
            block_linear(&X[0, 0], &P, 0, n, &w[0], NULL, w[d], &z[0])
            total = block_loss(&P, 0, n, &z[0], &r[0], &h[0])
            block_transpose_add(&X[0, 0], &P, 0, n, &r[0], &grad[0], NULL)
        for j in range(d + 1):
            grad[j] /= n
        return total / n
''')

SETUP = textwrap.dedent('''
    import sys
    import gdfast
    from Cython.Build import cythonize
    from setuptools import Extension, setup

    ext = Extension("downstream", ["downstream.pyx"], include_dirs=[gdfast.get_include()])
    setup(name="downstream", ext_modules=cythonize([ext], include_path=[gdfast.get_include()],
                                                 compiler_directives={"language_level": 3}),
          script_args=["build_ext", "--inplace", "-q"])
''')


def test_downstream_extension_cimports_the_kernels(tmp_path):
    (tmp_path / "downstream.pyx").write_text(DOWNSTREAM)
    (tmp_path / "setup.py").write_text(SETUP)
    build = subprocess.run([sys.executable, "setup.py"], cwd=tmp_path, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    check = textwrap.dedent('''
        import numpy as np, gdfast, downstream
        rng = np.random.default_rng(0)
        X = rng.standard_normal((300, 7)); y = (rng.random(300) < 0.4).astype(float)
        w = rng.standard_normal(8) * 0.5
        g = np.empty(8); z, r, h = np.empty(300), np.empty(300), np.empty(300)
        c = downstream.cost_gradient(X, y, w, g, z, r, h)
        c0, g0 = gdfast.Objective(X, y).cost_gradient(w)
        print(abs(c - c0) / c0, np.linalg.norm(g - g0) / np.linalg.norm(g0))
    ''')
    run = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    cost_err, grad_err = map(float, run.stdout.strip().splitlines()[-1].split())
    assert cost_err < 1e-13 and grad_err < 1e-12


def test_get_include_holds_the_pxd_files():
    import os
    root = gdfast.get_include()
    for name in ("kernels.pxd", "_loss.pxd", "_loss.h", "_simd.h"):
        assert os.path.isfile(os.path.join(root, "gdfast", name))
