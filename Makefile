# CityBrain: `make run` and `make test` are the only commands a fresh Debian 12 machine needs.
# Each target installs the Debian packages that are missing (non-interactive, idempotent), then builds.

SHELL := /bin/bash
DEB_PACKAGES := cmake ninja-build g++ clang lld clang-format clang-tidy libclang-rt-14-dev libgtest-dev libgmock-dev libbenchmark-dev \
                nlohmann-json3-dev libcli11-dev time libsqlite3-dev libpqxx-dev libboost-dev postgresql \
                python3 python3-jsonschema wrk libpugixml-dev nats-server libnats-dev \
                libespeak-ng-dev espeak-ng-data golang-github-mozillazg-go-pinyin-dev libmosquitto-dev mosquitto \
                libosmium2-dev libprotozero-dev zlib1g-dev libbz2-dev libexpat1-dev \
                libfasttext-dev liblinear-dev libsodium-dev python3-jieba libopencc-dev libopencc-data chromium fonts-wqy-microhei \
                libopencv-dnn-dev libopencv-imgcodecs-dev libopencv-imgproc-dev libopencv-videoio-dev libopencv-video-dev \
                libxnnpack-dev libpthreadpool-dev libonnx-dev libprotobuf-dev \
                python3-onnx python3-numpy darknet opencv-doc sumo \
                python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RUN_ARGS ?=

.PHONY: all deps build run test test-unit test-asan test-fuzz fuzz-long bench format clean intake-model

all: build

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing missing Debian packages:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	scripts/fetch_models.sh build/models
	cmake --preset release >/dev/null
	cmake --build --preset release
	@mkdir -p bin && cp build/release/citybrain bin/citybrain
	@echo "built ./bin/citybrain"

# The main job on the embedded default: a generated district, adaptive signals against fixed-time. Citizens'
# messages are routed by the taxonomy's keywords, and by the intake model too once `make intake-model` built it.
INTAKE_MODEL := build/models/intake.model
run: build
	./bin/citybrain run --knowledge config/knowledge $(if $(wildcard $(INTAKE_MODEL)),--classifier $(INTAKE_MODEL)) $(RUN_ARGS)

# The intake classifier, trained from ../shared/data (never committed): the full labelled TeddyCup set, less the
# near-duplicates of the 395 sample messages, which stay apart for evaluation.
TEDDY := ../shared/data/incidents
intake-model: build
	@test -f $(TEDDY)/teddycup2020_c_full_labeled/messages_labeled_segmented.tsv || \
	  { echo "intake-model: $(TEDDY)/teddycup2020_c_full_labeled is not here; intake keeps to keywords"; exit 2; }
	@mkdir -p build/models
	./bin/citybrain nlp train --algo tfidf --data $(TEDDY)/teddycup2020_c_full_labeled/messages_labeled_segmented.tsv \
	  --exclude $(TEDDY)/teddycup2020_c_sample/messages_labeled_train.tsv --out $(INTAKE_MODEL)

# Every test: release build (unit, scenario and dataset tests, clang-tidy), then one clang build with ASan/UBSan that
# runs the tests again, checks each header alone and holds the libFuzzer targets, which run briefly from it. The
# ASan run leaves out four whole-dataset evaluations (ATT and accuracy on real data: CMakePresets.json's dev
# filter); the release run asserts them, and their code runs under ASan in the smaller tests.
test: build test-unit test-asan test-fuzz

test-unit: build
	scripts/run_tidy.py build/release
	ctest --preset release

test-asan: deps
	scripts/fetch_models.sh build/models
	cmake --preset dev >/dev/null
	cmake --build --preset dev
	cmake --build --preset dev --target check-headers
	ctest --preset dev

FUZZ_SECONDS ?= 20
test-fuzz: deps
	cmake --preset dev >/dev/null
	cmake --build --preset dev
	scripts/run_fuzzers.sh build/dev $(FUZZ_SECONDS)

# A longer campaign on the optimised fuzzing build (not part of `make test`): make fuzz-long FUZZ_SECONDS=600
fuzz-long: deps
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz
	scripts/run_fuzzers.sh build/fuzz $(FUZZ_SECONDS)

bench: build
	scripts/bench_traffic.sh
	scripts/bench_incidents.sh
	build/release/bench/dispatch_benchmark
	scripts/bench_vrp.sh 2 1

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf build bin
