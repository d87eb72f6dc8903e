"""Build steps pyproject.toml cannot declare.

Metadata lives in pyproject.toml. This file declares the one compiled piece,
the ESSL crop decoder, which links the system libjpeg-turbo
(libjpeg62-turbo-dev) and OpenCV (libopencv-dev), the same libraries FFCV
builds against; and, as MMPretrain's setup.py does, it puts the configs, the
tools and model-index.yml under ``mmeff/.mim`` for ``mim``: copies in a wheel,
symbolic links to the repository's folders in an editable install.

A build that cannot compile the decoder fails and names the packages to
install; ``MMEFF_WITHOUT_ESSL=1`` builds mmeff without it instead (everything
but reading ESSL storage works), with a warning.
"""
import os
import os.path as osp
import shlex
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.errors import (
    CCompilerError,
    CompileError,
    ExecError,
    LinkError,
    PlatformError,
)

ROOT = osp.dirname(osp.abspath(__file__))
MIM_FILES = ('configs', 'tools', 'model-index.yml')
SYSTEM_PACKAGES = 'g++ pkg-config libjpeg62-turbo-dev libopencv-dev'
WITHOUT_ESSL = 'MMEFF_WITHOUT_ESSL'


def _remove(path):
    if osp.islink(path) or osp.isfile(path):
        os.remove(path)
    elif osp.isdir(path):
        shutil.rmtree(path)


def link_mim_files():
    """``mmeff/.mim/<name>`` -> ``../../<name>``, for editable installs."""
    mim = osp.join(ROOT, 'mmeff', '.mim')
    os.makedirs(mim, exist_ok=True)
    for name in MIM_FILES:
        _remove(osp.join(mim, name))
        os.symlink(osp.join('..', '..', name), osp.join(mim, name))


class BuildPyWithMim(build_py):
    """``build_py`` that also copies the mim files into the built package."""

    def run(self):
        super().run()
        mim = osp.join(self.build_lib, 'mmeff', '.mim')
        os.makedirs(mim, exist_ok=True)
        for name in MIM_FILES:
            src, dst = osp.join(ROOT, name), osp.join(mim, name)
            _remove(dst)
            if osp.isdir(src):
                shutil.copytree(src, dst, ignore=shutil.ignore_patterns(
                    '__pycache__', '*.pyc'))
            else:
                shutil.copyfile(src, dst)


class BuildExtOrExplain(build_ext):
    """``build_ext`` that stops a build without the ESSL decoder, saying why
    and what to install, unless MMEFF_WITHOUT_ESSL=1 asks for one."""

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except (CCompilerError, CompileError, ExecError, LinkError,
                PlatformError) as err:
            skip = os.environ.get(WITHOUT_ESSL) == '1'
            lines = [
                f'mmeff: the ESSL crop decoder ({ext.sources[0]}) did not '
                f'compile: {err}',
                'Install a C++ compiler and the libraries it links (Debian/'
                f'Ubuntu: sudo apt-get install {SYSTEM_PACKAGES}) and build '
                'again.',
                (f'{WITHOUT_ESSL}=1 is set: building mmeff WITHOUT ESSL '
                 'loading (ESSLLoader configs will not run).') if skip else
                (f'Or set {WITHOUT_ESSL}=1 to build mmeff without ESSL '
                 'loading.')]
            bar = '*' * 78
            print('\n'.join([bar, *lines, bar]), file=sys.stderr)
            if not skip:
                raise SystemExit(1) from err


if {'develop', 'editable_wheel'} & set(sys.argv):
    link_mim_files()


def pkg_config(*args):
    try:
        out = subprocess.run(['pkg-config', *args, 'opencv4'], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return shlex.split(out)


include_dirs = [f[2:] for f in pkg_config('--cflags-only-I')] or [
    '/usr/include/opencv4']

setup(
    cmdclass={'build_py': BuildPyWithMim, 'build_ext': BuildExtOrExplain},
    ext_modules=[Extension(
        'mmeff.data.essl._essl_decode',
        sources=['mmeff/data/essl/_essl_decode.cpp'],
        include_dirs=include_dirs,
        libraries=['jpeg', 'opencv_imgcodecs', 'opencv_imgproc',
                   'opencv_core'],
        extra_compile_args=['-O3', '-std=c++17'],
        language='c++')])
