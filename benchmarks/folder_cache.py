"""The cache of data.load_folder, measured side by side in one run on one folder.

A folder of N joint PNGs (default 5,000 embedded faces at 64×128, the paper preset's size, as
data_scripts/prepare_celeba.py writes them) is loaded four ways: without a cache (every file
decoded into memory), the first cached load (decodes every file and writes the cache), a
cached load (memory-maps the cache), and a cached load followed by reading every pixel once.
Each time is the best of --repeat; tracemalloc gives the memory each load allocates.

    python benchmarks/folder_cache.py [--n 5000] [--size 64] [--repeat 3] [--folder DIR]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from cgan_minimal import data


def timed(fn, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5000, help="images in the folder (default %(default)s)")
    ap.add_argument("--size", type=int, default=64, help="side of one half (default %(default)s: 64×128 joint images)")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many loads (default %(default)s)")
    ap.add_argument("--folder", default=None, help="write the folder here and keep it (default: a temporary folder)")
    a = ap.parse_args()
    root = Path(a.folder) if a.folder else Path(tempfile.mkdtemp(prefix="cgan_cache_bench_"))
    folder = root / "train"
    try:
        t0 = time.perf_counter()
        data.save_folder(data.faces_dataset(a.n, size=a.size), folder)
        print(f"{a.n} joint PNGs of {a.size}×{2 * a.size} written to {folder} in {time.perf_counter() - t0:.0f} s "
              f"({sum(p.stat().st_size for p in folder.glob('*.png')) / 1e6:.0f} MB)")
        shutil.rmtree(folder / data.CACHE_DIR, ignore_errors=True)

        t_plain, plain = timed(lambda: data.load_folder(folder, cache=False), a.repeat)
        t_build, _ = timed(lambda: data.load_folder(folder), 1)
        t_hit, hit = timed(lambda: data.load_folder(folder), a.repeat)
        t_read, _ = timed(lambda: int(data.load_folder(folder).images.sum(dtype=np.uint64)), a.repeat)
        assert np.array_equal(plain.images, hit.images) and isinstance(hit.images, np.memmap)
        m_plain = peak_bytes(lambda: data.load_folder(folder, cache=False))
        m_hit = peak_bytes(lambda: data.load_folder(folder))
        mb = plain.images.nbytes / 1e6
        print(f"load of {a.n} images ({mb:.0f} MB as uint8), best of {a.repeat}:")
        print(f"  without a cache          {t_plain:7.2f} s   allocates {m_plain / 1e6:6.1f} MB")
        print(f"  first load (writes it)   {t_build:7.2f} s   ({t_build / t_plain:.2f}x the uncached load)")
        print(f"  from the cache           {t_hit:7.3f} s   allocates {m_hit / 1e6:6.1f} MB (memory-mapped)")
        print(f"  from the cache + reading every pixel once {t_read:.3f} s")
        print(f"  ratio                    {t_plain / t_hit:7.1f}x faster from the cache "
              f"({t_plain / t_read:.1f}x with every pixel read); identical arrays")
    finally:
        if not a.folder:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
