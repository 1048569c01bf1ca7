# The model answers, except that parts 1 and 2 wrap the library's own functions. This file
# holds the two answer cells that replace the model's (cells "blur" and "xdog"), separated by
# a line "# ---".
def gaussian_blur(gray: np.ndarray, sigma: float) -> np.ndarray:
    return xdog.blur(gray, sigma)
# ---
from cgan_minimal.xdog import xdog as library_xdog


def my_xdog(image, sigma=0.9, k=1.6, tau=0.99, eps=-0.01, phi=200.0):
    return library_xdog(image, sigma=sigma, k=k, tau=tau, eps=eps, phi=phi)
