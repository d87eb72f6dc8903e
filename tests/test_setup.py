"""setup.py: a build that cannot compile the ESSL decoder stops and says
what to install, unless MMEFF_WITHOUT_ESSL=1 asks for a build without it."""
import os
import subprocess
import sys

from tests.helpers.tools import REPO


def _build_ext(tmp_path, **env):
    # `false` stands in for a machine whose compiler cannot build the decoder.
    full_env = dict(os.environ, CC='false', CXX='false', **env)
    return subprocess.run(
        [sys.executable, 'setup.py', 'build_ext', '--build-lib',
         str(tmp_path / 'lib'), '--build-temp', str(tmp_path / 'temp')],
        cwd=REPO, env=full_env, capture_output=True, text=True, timeout=300)


def test_build_without_the_decoder_fails_naming_the_packages(tmp_path):
    result = _build_ext(tmp_path)
    assert result.returncode == 1
    assert ('mmeff: the ESSL crop decoder (mmeff/data/essl/_essl_decode.cpp) '
            'did not compile') in result.stderr
    assert ('sudo apt-get install g++ pkg-config libjpeg62-turbo-dev '
            'libopencv-dev') in result.stderr
    assert 'Or set MMEFF_WITHOUT_ESSL=1' in result.stderr
    assert not list((tmp_path / 'lib').rglob('_essl_decode*'))


def test_without_essl_builds_and_says_so(tmp_path):
    result = _build_ext(tmp_path, MMEFF_WITHOUT_ESSL='1')
    assert result.returncode == 0, result.stderr
    assert ('MMEFF_WITHOUT_ESSL=1 is set: building mmeff WITHOUT ESSL '
            'loading') in result.stderr
    assert not list((tmp_path / 'lib').rglob('_essl_decode*'))
