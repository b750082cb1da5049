#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
# b4's tracking data of the prep branch in the current directory (the JSON in
# b4's cover commit: change-id, revision, prefixes, history of postings),
# read and written with b4's own functions (b4.ez.load_cover, store_cover),
# so that the tree can keep it in postings/<series>/tracking.json.
#
#   b4-tracking.py get KEY                 print series.KEY (change-id, revision)
#   b4-tracking.py dump                    print series as JSON
#   b4-tracking.py set FILE [PREFIX...]    take change-id, revision and history
#                                          from FILE (if it exists), set the
#                                          prefixes; KMMU_VERSION=N sets the revision
# Runs with /usr/bin/python3, where Debian's b4 is (not a pyenv python).
import argparse
import json
import os
import sys

import b4
import b4.ez

b4.setup_config(argparse.Namespace(config=None))


def main(argv):
    if not argv:
        raise SystemExit('usage: b4-tracking.py get KEY | dump | set FILE [PREFIX...]')
    cover, tracking = b4.ez.load_cover()
    if not tracking:
        raise SystemExit('error: %s is not a b4 prep branch' % os.getcwd())
    series = tracking['series']
    if argv[0] == 'get':
        print(series[argv[1]])
    elif argv[0] == 'dump':
        print(json.dumps(series, indent=2))
    elif argv[0] == 'set':
        path, prefixes = argv[1], argv[2:]
        if os.path.exists(path):
            try:
                saved = json.load(open(path))
            except ValueError as e:
                raise SystemExit('error: %s is not JSON (%s); fix it from git history' % (path, e))
            for k in ('change-id', 'revision', 'history'):
                if k in saved:
                    series[k] = saved[k]
        series['prefixes'] = prefixes
        if os.environ.get('KMMU_VERSION'):
            series['revision'] = int(os.environ['KMMU_VERSION'])
        b4.ez.store_cover(cover, tracking)
    else:
        raise SystemExit('unknown command %s' % argv[0])


if __name__ == '__main__':
    main(sys.argv[1:])
