#!/usr/bin/env bash
# Fetches real photographs from two Debian packages and sorts them into the texture roles that
# `umbra synth --textures DIR` understands (ground/, wall/, background/, objects/):
#   python3-skimage   scikit-image's sample photos (CC0 / public domain)
#   mate-backgrounds  MATE desktop nature photos (GPL-2+)
# Usage: scripts/fetch-textures.sh [DEST]   (default: data/textures, gitignored)
# Needs apt-get (Debian/Ubuntu; no root needed for `apt-get download`) and dpkg-deb.
set -euo pipefail
DEST="${1:-data/textures}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
apt-get download python3-skimage mate-backgrounds
for deb in *.deb; do dpkg-deb -x "$deb" extracted; done
SK="$(find extracted -type d -path '*skimage/data' | head -n 1)"
MATE="extracted/usr/share/backgrounds/mate"
cd - >/dev/null
mkdir -p "$DEST"/{ground,wall,background,objects}
copy() { # role source-file
  [ -f "$2" ] && cp "$2" "$DEST/$1/" || echo "missing: $2" >&2
}
W="$WORK"
for f in gravel brick grass moon; do copy ground "$W/$SK/$f.png"; done
copy ground "$W/$MATE/nature/GreenMeadow.jpg"
copy ground "$W/$MATE/nature/Wood.jpg"
for f in brick gravel moon; do copy wall "$W/$SK/$f.png"; done
copy wall "$W/$MATE/nature/Wood.jpg"
copy wall "$W/$MATE/nature/Blinds.jpg"
for f in Storm Dune Garden GreenMeadow TwoWings; do copy background "$W/$MATE/nature/$f.jpg"; done
for f in camera motorcycle_left rocket; do [ -f "$W/$SK/$f.png" ] && copy background "$W/$SK/$f.png" || copy background "$W/$SK/$f.jpg"; done
for f in coffee chelsea astronaut motorcycle_right camera coins; do copy objects "$W/$SK/$f.png"; done
copy objects "$W/$SK/rocket.jpg"
for f in Aqua FreshFlower Garden LadyBird RainDrops TwoWings YellowFlower Blinds Storm; do copy objects "$W/$MATE/nature/$f.jpg"; done
copy objects "$W/$MATE/abstract/Elephants.jpg"
echo "textures in $DEST:"
find "$DEST" -type f | sort | sed 's/^/  /'
