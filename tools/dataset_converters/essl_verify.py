#!/usr/bin/env python
"""Check an ESSL file: its header, index and size against the sidecar, and
every record's bytes against the CRC-32 the writer stored.

    python tools/dataset_converters/essl_verify.py data/imagenet/train.beton

Exit status: 0 when every record is intact, 1 when some are corrupt (their
indices are printed), 2 when the file cannot be opened as ESSL storage.
"""
import argparse
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog='essl_verify', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('file', help='the .beton file (with its .meta.json)')
    p.add_argument('--no-progress', action='store_true',
                   help='no progress bar')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmeff.data.essl import ESSLFileError, ESSLRecords
    try:
        records = ESSLRecords(args.file)
    except ESSLFileError as err:
        print(f'essl_verify: error: {err}', file=sys.stderr)
        return 2
    bad = records.corrupt_records(progress=not args.no_progress)
    if bad:
        print(f'{args.file}: {len(bad)} of {len(records)} records corrupt: '
              + ' '.join(map(str, bad)))
        return 1
    print(f'{args.file}: all {len(records)} records intact')
    return 0


if __name__ == '__main__':
    sys.exit(main())
