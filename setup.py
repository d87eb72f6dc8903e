"""Build step for mmeff's one compiled piece: the ESSL crop decoder.

Metadata lives in pyproject.toml; this file only declares the extension, which
links the system libjpeg-turbo (libjpeg62-turbo-dev) and OpenCV
(libopencv-dev), the same libraries FFCV builds against.
"""
import shlex
import subprocess

from setuptools import Extension, setup


def pkg_config(*args):
    try:
        out = subprocess.run(['pkg-config', *args, 'opencv4'], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return shlex.split(out)


include_dirs = [f[2:] for f in pkg_config('--cflags-only-I')] or [
    '/usr/include/opencv4']

setup(ext_modules=[
    Extension(
        'mmeff.data.essl._essl_decode',
        sources=['mmeff/data/essl/_essl_decode.cpp'],
        include_dirs=include_dirs,
        libraries=['jpeg', 'opencv_imgcodecs', 'opencv_imgproc',
                   'opencv_core'],
        extra_compile_args=['-O3', '-std=c++17'],
        language='c++',
        # Without the libraries mmeff still installs; only ESSL reading
        # (mmeff.data.essl._lib) then reports the missing build.
        optional=True),
])
