from collections.abc import Callable, Iterable
from typing import Any

def check_is_fitted(estimator: object, attributes: str | list[str] | tuple[str, ...] | None = None,
                    *, msg: str | None = None,
                    all_or_any: Callable[[Iterable[object]], bool] = ...) -> None: ...

# Returns X, y or (X, y), depending on which were given.
def validate_data(_estimator: object, /, X: Any = "no_validation", y: Any = "no_validation",
                  reset: bool = True,
                  validate_separately: bool | tuple[dict[str, Any], dict[str, Any]] = False,
                  skip_check_array: bool = False, **check_params: Any) -> Any: ...

def check_array(array: Any, accept_sparse: str | bool | list[str] | tuple[str, ...] = False, *,
                dtype: Any = "numeric", **check_params: Any) -> Any: ...
