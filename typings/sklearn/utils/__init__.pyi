import numbers

import numpy as np

def check_random_state(seed: int | numbers.Integral | np.random.RandomState | None
                       ) -> np.random.RandomState: ...
