#!/usr/bin/env bash
# Runs the block-size benchmark (docs/block-size.md). Arguments go to BlockSizeBenchmark, e.g.
#   cairn-repository/block-size-benchmark.sh --disk-mib 1024 --threads 2 --repeat 3 --sizes 64,256,512,1024,4096
# BENCH_JAVA_OPTS adds JVM options (default: -Xmx4g).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
. "$root/scripts/java-home.sh"
cd "$root"
mvn -q -B -pl cairn-repository test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath -Dmdep.includeScope=test
cd "$here"
# shellcheck disable=SC2086
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED ${BENCH_JAVA_OPTS:--Xmx4g} \
    -cp "target/classes:target/test-classes:$(cat target/bench.classpath)" \
    dev.cairn.repository.bench.BlockSizeBenchmark "$@"
