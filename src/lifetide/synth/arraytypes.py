"""Names for the numpy array types the generator passes around."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Int32Array = NDArray[np.int32]
SmallIntArray = NDArray[np.int8]
BoolArray = NDArray[np.bool_]
ByteArray = NDArray[np.uint8]
UIntArray = NDArray[np.uint64]
