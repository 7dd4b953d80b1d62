"""The `gdfast` command line: demo, fit, predict, bench.

``gdfast fit`` and ``gdfast predict`` read CSV files with the csv module and need neither pandas
nor scikit-learn. Any problem with the input (a missing file or column, a value that is not a
number, a bad option) is one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from typing import TYPE_CHECKING, Any, NoReturn, Sequence

from .losses import LOSSES, Tweedie, get_loss

if TYPE_CHECKING:
    import numpy as np

    from ._objective import Objective

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (argparse prints the usage too)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    from . import __version__
    p = _Parser(prog="gdfast", description="Linear models by gradient descent and Newton's method.")
    p.add_argument("--version", action="version", version=f"gdfast {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="fit logistic regression on the packaged breast-cancer data "
                                       "at three learning rates and by Newton's method",
                          description="Fit logistic regression on the packaged breast-cancer data "
                                      "with a too-small, a good and a too-large learning rate and by "
                                      "Newton's method; print a table and save the cost curves.")
    where = demo.add_mutually_exclusive_group()
    where.add_argument("--plot", metavar="PATH", default="gdfast-demo.png",
                       help="where to save the PNG of the cost curves (needs matplotlib: "
                            "pip install 'gdfast[demo]'); default: %(default)s")
    where.add_argument("--no-plot", action="store_true", help="do not make the picture")

    fit = sub.add_parser("fit", help="fit a model to a CSV file and print its coefficient table",
                         description="Fit a linear model to a CSV file (header line; every column "
                                     "but the target is a feature) and print the coefficient table "
                                     "with standard errors, or JSON.")
    fit.add_argument("data", metavar="DATA.csv")
    fit.add_argument("--target", required=True, metavar="COL", help="the column to predict")
    fit.add_argument("--loss", choices=["auto", *LOSSES, "multinomial"], default="auto",
                     help="a registered loss: " + ", ".join(
                         f"{name} ({cls.model_name})" for name, cls in LOSSES.items())
                     + ", or multinomial (multinomial logistic regression over the target's "
                       "K >= 2 labels); auto: log_loss when the target has exactly two distinct "
                       "values, multinomial when it has more and they are not all numbers, "
                       "squared_error otherwise (default)")
    fit.add_argument("--power", type=float, default=None, metavar="P",
                     help="the power of --loss tweedie: 0 (normal), 1 (Poisson), between 1 and "
                          "2 (compound Poisson-Gamma), 2 (Gamma), above 2 (default: 1.5)")
    fit.add_argument("--solver", default="auto", help="a gdfast.minimize method (default: auto, "
                                                      "Newton's method)")
    fit.add_argument("--alpha", type=float, default=0.0,
                     help="L2 penalty alpha/2 ||coef||^2 (default: %(default)g, the unpenalised "
                          "model whose standard errors and p-values are the classical ones, as "
                          "statsmodels, R and Stata report them; classes that a hyperplane "
                          "separates then have no estimate: the fit says so)")
    fit.add_argument("--no-intercept", action="store_true", help="fit without an intercept")
    fit.add_argument("--max-iter", type=int, default=None, help="most iterations")
    fit.add_argument("--tol", type=float, default=1e-8, help="relative gradient tolerance "
                                                             "(default: %(default)g)")
    fit.add_argument("--json", action="store_true", help="print the model as JSON instead of the table")
    fit.add_argument("--save", metavar="MODEL.json", help="save the model for 'gdfast predict'")

    predict = sub.add_parser("predict", help="add predictions to a CSV file",
                             description="Write DATA.csv's rows with a 'prediction' column (and, "
                                         "for a logistic model, a 'probability' column: the "
                                         "probability of the model's second class).")
    predict.add_argument("model", metavar="MODEL.json", help="a model saved by 'gdfast fit --save'")
    predict.add_argument("data", metavar="DATA.csv")
    predict.add_argument("--output", metavar="OUT.csv", help="where to write (default: stdout)")

    bench = sub.add_parser("bench", help="time the compiled core against gdfast.reference (numpy), in "
                                         "under a minute",
                           description="Time cost_gradient at two shapes and a Newton fit of gdfast "
                                       "against its plain-numpy twin gdfast.reference, side by side, and "
                                       "print the speed-ups. The full benchmark report (scikit-learn, "
                                       "statsmodels, memory bandwidth) is benchmarks/report.py in a "
                                       "source checkout.")
    bench.add_argument("--threads", type=int, default=1, metavar="K",
                       help="gdfast's n_threads, and BLAS limited to K for the reference (default: 1)")
    bench.add_argument("--repeats", type=int, default=5, metavar="N",
                       help="timed samples per contender, the median printed (default: %(default)s)")
    bench.add_argument("--quick", action="store_true",
                       help="tiny sizes, a second or two (checks that it runs; the ratios mean little)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    command = {"demo": _demo, "fit": _fit, "predict": _predict, "bench": _bench}[args.command]
    try:
        return command(args)
    except BrokenPipeError:
        # The reader of our output stopped early (`gdfast predict ... | head`): not an error.
        # Point stdout at devnull so that Python's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        return _fail(args.command, f"{where}{e.strerror or e}")
    except (ValueError, TypeError, ImportError) as e:
        return _fail(args.command, str(e))


def _fail(command: str, message: str) -> int:
    print(f"gdfast {command}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _demo(args: argparse.Namespace) -> int:
    from ._demo import main as demo
    return demo(plot=None if args.no_plot else args.plot)


def _bench(args: argparse.Namespace) -> int:
    from ._bench import run
    return run(threads=args.threads, quick=args.quick, repeats=args.repeats)


def _choose_loss(requested: str, labels: list[str]) -> str:
    if requested != "auto":
        return requested
    distinct = set(labels)
    if len(distinct) == 2:
        return "log_loss"
    return "squared_error" if _all_numbers(distinct) or len(distinct) < 2 else "multinomial"


def _all_numbers(labels: set[str]) -> bool:
    try:
        [float(v) for v in labels]
    except ValueError:
        return False
    return True


def _sorted_labels(labels: set[str]) -> list[str]:
    """Distinct labels in order: numerically when they are numbers."""
    return sorted(labels, key=float) if _all_numbers(labels) else sorted(labels)


def _two_classes(labels: list[str], path: str, target: str, loss: str) -> list[str]:
    """The target's two distinct labels in order (numerically when they are numbers)."""
    distinct = set(labels)
    if len(distinct) != 2:
        shown = ", ".join(map(repr, sorted(distinct)[:5])) + (", ..." if len(distinct) > 5 else "")
        more = "; for more classes use --loss multinomial" if len(distinct) > 2 else ""
        raise ValueError(f"--loss {loss} needs a target with two distinct values; column "
                         f"{target!r} of {path} has {len(distinct)}: {shown}{more}")
    return _sorted_labels(distinct)


def _fit(args: argparse.Namespace) -> int:
    from . import _modelfile
    from ._fitting import fit_objective
    from ._objective import Objective
    from ._table import read_table
    from .stats import standard_errors

    table = read_table(args.data)
    labels = [v.strip() for v in table.column(args.target)]
    features = [h for h in table.header if h != args.target]
    if not features:
        raise ValueError(f"{args.data} has no feature columns besides the target {args.target!r}")
    X = table.numbers(features)
    loss: Any = _choose_loss(args.loss, labels)
    if loss == "multinomial":
        if args.power is not None:
            raise ValueError("--power applies to --loss tweedie only; got --loss multinomial")
        return _fit_multinomial(args, labels, features, X)
    if args.power is not None:
        if loss != "tweedie":
            raise ValueError(f"--power applies to --loss tweedie only; got --loss {loss}")
        loss = Tweedie(args.power)
    classes = None
    y: list[float] | np.ndarray
    if get_loss(loss).is_classifier:
        classes = _two_classes(labels, args.data, args.target, loss)
        y = [float(v == classes[1]) for v in labels]
    else:
        y = table.numbers([args.target])[:, 0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        obj = Objective(X, y, loss=loss, alpha=args.alpha, fit_intercept=not args.no_intercept)
        res = fit_objective(obj, args.solver, max_iter=args.max_iter, tol=args.tol)
        if res.status == "separated":
            # no maximum-likelihood estimate exists: errors at the returned weights mean nothing
            import numpy
            se = numpy.full(obj.n_params, numpy.nan)
            warnings.warn("the standard errors and p-values are undefined (nan): with separable "
                          "classes and --alpha 0 the estimates do not exist; use --alpha > 0")
        else:
            se = standard_errors(obj, res.w)
        _warn_without_residual_df(obj)
    for w in caught:
        print(f"gdfast fit: warning: {w.message}", file=sys.stderr)
    doc = _modelfile.model_document(obj, res, se, target=args.target, features=features,
                                    classes=classes, solver=args.solver)
    return _write_model(args, doc)


def _fit_multinomial(args: argparse.Namespace, labels: list[str], features: list[str],
                     X: np.ndarray) -> int:
    """``gdfast fit --loss multinomial``: one softmax model over the target's labels."""
    import numpy as np

    from . import _modelfile
    from ._fitting import fit_objective
    from ._multinomial_objective import MultinomialObjective
    from .stats import covariance

    classes = _sorted_labels(set(labels))
    if len(classes) < 2:
        raise ValueError(f"--loss multinomial needs a target with at least two distinct values; "
                         f"column {args.target!r} of {args.data} has {len(classes)}")
    index = {label: k for k, label in enumerate(classes)}
    y = np.array([index[v] for v in labels], dtype=np.intp)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        obj = MultinomialObjective(X, y, n_classes=len(classes), alpha=args.alpha,
                                   fit_intercept=not args.no_intercept)
        res = fit_objective(obj, args.solver, max_iter=args.max_iter, tol=args.tol)
        if res.status == "separated":
            cov = np.full((obj.n_params, obj.n_params), np.nan)
            warnings.warn("the standard errors and p-values are undefined (nan): with separable "
                          "classes and --alpha 0 the estimates do not exist; use --alpha > 0")
        elif not obj.can_form_hessian:
            cov = np.full((obj.n_params, obj.n_params), np.nan)
            warnings.warn(f"no standard errors (nan): the Hessian of {obj.n_params} parameters "
                          "is too large to form")
        else:
            cov = covariance(obj, res.w)
    for w in caught:
        print(f"gdfast fit: warning: {w.message}", file=sys.stderr)
    doc = _modelfile.multinomial_document(obj, res, cov, target=args.target, features=features,
                                          classes=classes, solver=args.solver)
    return _write_model(args, doc)


def _write_model(args: argparse.Namespace, doc: dict[str, Any]) -> int:
    """Save, print as JSON or print the table of a fitted model, as ``gdfast fit`` asks."""
    from . import _modelfile
    if args.save:
        with open(args.save, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(_modelfile.summary(doc))
        if args.save:
            print(f"\nModel saved to {args.save}")
    return 0


def _warn_without_residual_df(obj: Objective) -> None:
    """Warn when the loss estimates its dispersion from the residuals and there are none to
    estimate it from: the table's standard errors, statistics and p-values are then nan."""
    from .stats import residual_df
    df = residual_df(obj)
    if df is not None and df <= 0:
        rows = "row" if obj.n_samples == 1 else "rows"
        warnings.warn(f"no residual degrees of freedom: {obj.n_samples} {rows} and "
                      f"{obj.n_params} parameters leave none to estimate the noise variance "
                      "from, so the standard errors, statistics and p-values are undefined "
                      "(nan); add rows or drop features", RuntimeWarning, stacklevel=2)


def _predict(args: argparse.Namespace) -> int:
    from . import _modelfile
    from ._table import read_table, write_table

    doc = _modelfile.load_model(args.model)
    header, rows = _modelfile.predict(doc, read_table(args.data))
    if args.output:
        with open(args.output, "w", newline="") as f:
            write_table(f, header, rows)
    else:
        write_table(sys.stdout, header, rows)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
