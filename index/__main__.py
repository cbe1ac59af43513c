"""Command line: `python -m index build` and `python -m index info`.

`build` embeds with ONNX Runtime on every core (the vectors of sentence-transformers, faster);
`--embedder sentence-transformers` builds with the reference library instead, the same index
(tests/test_onnx_build.py), to check or measure it (bench/build_speed.py). The ONNX export is
cached beside the index directory (`<out>/../onnx`), where the server looks for it.

Library errors are typed (errors.py); this is the one place they become a message on
stderr and exit status 2. What the build logs (progress, skipped files) prints to stderr, one line each
(plumbing/messages.py); the summary of the build to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys

from .build import build_index, describe
from .backends import BACKENDS, make_embedder
from .errors import SearchIndexError
from .search_index import SearchIndex
from plumbing.environment import index_dir, onnx_cache_dir, sources_dir
from plumbing.messages import show_messages
from .settings import IndexSettings
from .sources import load_corpus


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m index", description="Build and inspect the search index.")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build or refresh the index (only changed sources are re-embedded)")
    # The defaults honour QA_SOURCES_DIR and QA_INDEX_DIR, as the server does: a rebuild lands where it serves from.
    build.add_argument("--sources", default=str(sources_dir()), help="directory or single file of sources (default: QA_SOURCES_DIR or %(default)s)")
    build.add_argument("--out", default=str(index_dir()), help="index directory (default: QA_INDEX_DIR or %(default)s)")
    build.add_argument("--embedder", choices=BACKENDS, default=BACKENDS[0],
                       help="library that computes the vectors (same model, same vectors; default: %(default)s)")
    build.add_argument("--quiet", action="store_true", help="no progress bars")
    info = commands.add_parser("info", help="print the index manifest")
    info.add_argument("--out", default=str(index_dir()), help="index directory (default: QA_INDEX_DIR or %(default)s)")
    info.add_argument("--json", action="store_true", help="print the whole manifest as JSON")
    return parser


def _info(out: str, as_json: bool) -> None:
    index = SearchIndex.load(out)  # verifies checksums and that every file reads
    build_dir, manifest = index.path, index.manifest
    if as_json:
        print(json.dumps(manifest, indent=2, ensure_ascii=False))
        return
    print(f"index:     {build_dir}")
    print(f"model:     {manifest['model']['name']} ({manifest['model']['dimension']} dims, normalised)")
    print(f"passages:  {manifest['passages']} ({manifest['sentences']} sentences; {manifest['dense']['kind']} FAISS + BM25)")
    print(f"sources:   {manifest['source_count']}")
    for sid, source in sorted(manifest["sources"].items()):
        print(f"  {sid:<40} {source['passages']:>5} passages  {source['title']}")
    print(f"settings:  {json.dumps(manifest['settings'])}")
    # Older manifests have no `embedded_with`: their vectors came from either backend, unrecorded.
    print(f"embedded:  {', '.join(manifest.get('embedded_with') or ['not recorded'])}")
    print(f"built at:  {manifest['built_at']}")
    if manifest.get("skipped"):
        print(f"skipped:   {len(manifest['skipped'])} file(s): " + "; ".join(f"{s['path']} ({s['reason']})" for s in manifest["skipped"]))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    show_messages()  # the libraries' progress and warnings, one line each on stderr
    try:
        if args.command == "build":
            corpus = load_corpus(args.sources)  # first: a wrong --sources fails in a moment, not after loading the model
            # Beside the index, as the server keeps it (qa/answerer.py), so both use one export.
            embedder = make_embedder(args.embedder, onnx_cache_dir=onnx_cache_dir(args.out))
            report = build_index(args.sources, args.out, embedder=embedder, settings=IndexSettings(), corpus=corpus,
                                 progress=not args.quiet)
            print(describe(report))
        else:
            _info(args.out, args.json)
    except SearchIndexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
