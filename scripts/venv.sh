#!/usr/bin/env bash
# `scripts/venv.sh VENV REQUIREMENTS LABEL`: makes sure the virtualenv VENV has the pinned
# REQUIREMENTS installed, installing only when it is missing or the pins changed (a stamp of the
# requirements file's hash is kept in the venv). Used by the Python suites.
set -euo pipefail
venv=${1:?venv} req=${2:?requirements} label=${3:-python}
stamp="$venv/.pins-$(realpath "$req" | sha256sum | cut -c1-12)"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    echo "# $label: installing the pinned Python packages of $req into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    echo "$want" >"$stamp"
fi
