# Sourced by bin/cairn and bin/test: sets JAVA_HOME to a Java 25 or explains what is missing.
# The JDK's release file says its version without starting a JVM (30 ms of every CLI command).
cairn_java_ok() {
  [ -x "$1/bin/java" ] || return 1
  if [ -f "$1/release" ]; then grep -q '^JAVA_VERSION="25' "$1/release"; else "$1/bin/java" -version 2>&1 | grep -q 'version "25'; fi
}
if [ -n "${JAVA_HOME:-}" ] && cairn_java_ok "$JAVA_HOME"; then
  :
else
  JAVA_HOME=""
  for candidate in /usr/lib/jvm/*25*; do
    if cairn_java_ok "$candidate"; then JAVA_HOME="$candidate"; break; fi
  done
  if [ -z "$JAVA_HOME" ]; then
    echo "cairn: needs a Java 25 JDK: set JAVA_HOME to one, or install one under /usr/lib/jvm (e.g. Temurin 25)" >&2
    exit 1
  fi
fi
export JAVA_HOME
