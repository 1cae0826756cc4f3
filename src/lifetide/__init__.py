"""Lifetide: customer data, predictions, segments and journeys for retailers."""

import os

# implicit's ALS runs its own threads; a multi-threaded OpenBLAS underneath them oversubscribes
# the cores and runs many times slower. The variable must be set before numpy loads OpenBLAS,
# which is why it lives here and not next to the recommender (threadpoolctl would be too late
# for implicit's own check). A value the user set wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
