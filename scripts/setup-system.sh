#!/usr/bin/env bash
# Install the Debian packages that rnnkit's bundled datasets and its browser test need.
#
#   espeak-ng, sox          -> rnnkit.datasets "spoken_digits" / "spoken_words" (speech synthesised locally)
#   diatheke, sword-text-*  -> rnnkit.datasets "bible_en_es" (World English Bible + Reina-Valera 1909)
#   apertium-eng-spa       -> bench/translation.py: the rule-based anchor translator (ANCHORS.md)
#   fluidsynth, fluid-soundfont-gm -> rnnkit.tasks.music: MIDI -> WAV rendering (optional: MIDI works without)
#   chromium                -> tests/server browser test (Playwright drives /usr/bin/chromium;
#                              Playwright's own browser download cannot reach the internet here)
#
# Idempotent: when every package is already installed it does nothing (no apt-get update), so
# `make setup` can call it on every run. Needs root (or sudo) only when something is missing.
set -euo pipefail

PACKAGES=(espeak-ng sox diatheke sword-text-web sword-text-sparv chromium apertium-eng-spa fluidsynth fluid-soundfont-gm flite)

missing=()
for pkg in "${PACKAGES[@]}"; do
    # dpkg-query prints "install ok installed" only for a fully installed package.
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "setup-system: all Debian packages present (${PACKAGES[*]})"
    exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "setup-system: missing ${missing[*]}; run this script as root to install them" >&2
        exit 1
    fi
fi

echo "setup-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
