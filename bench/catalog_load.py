"""Load time of the embedded price catalog (target: under 1.5 s for the whole command).

    python bench/catalog_load.py            # in-process: import, load, products()
    /usr/bin/time -f "%e s" python -c "from gpuladder.pricing.catalog import embedded_catalog; embedded_catalog()"
"""

from __future__ import annotations

import time

t0 = time.perf_counter()
from gpuladder.pricing.catalog import embedded_catalog  # noqa: E402

t1 = time.perf_counter()
catalog = embedded_catalog()
t2 = time.perf_counter()
products = catalog.products()
t3 = time.perf_counter()
print(f"import {t1 - t0:.3f} s, load+validate {t2 - t1:.3f} s ({len(catalog.families)} families, "
      f"{len(catalog.commitments)} commitment rows), products() {t3 - t2:.3f} s ({len(products)} products)")
