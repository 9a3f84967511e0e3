# Build and install hearth. Run `make install` as root to set up a service
# (see "Running it as a service" in README.md); with DESTDIR set (packaging)
# only the files are installed and the postinstall steps are left to the
# package's own scripts.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
MANDIR     ?= $(PREFIX)/share/man
UNITDIR    ?= /etc/systemd/system
STATEDIR   ?= /var/lib/hearth
DESTDIR    ?=
GO         ?= go

.PHONY: build install postinstall uninstall test

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o hearth ./cmd/hearth

# The configuration is installed only when absent, readable by the hearth
# group (it may hold database passwords).
install: build
	install -D -m 0755 hearth $(DESTDIR)$(BINDIR)/hearth
	install -D -m 0644 docs/hearth.1 $(DESTDIR)$(MANDIR)/man1/hearth.1
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed 's|/usr/local/bin/hearth|$(BINDIR)/hearth|g' packaging/hearth.service > $(DESTDIR)$(UNITDIR)/hearth.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/hearth.service
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/hearth
	test -e $(DESTDIR)$(SYSCONFDIR)/hearth/hearth.toml || \
		install -m 0640 packaging/hearth.toml $(DESTDIR)$(SYSCONFDIR)/hearth/hearth.toml
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
		$(MAKE) --no-print-directory postinstall; \
	else \
		echo "not root or DESTDIR set: run 'make postinstall' as root on the target (user, data directory, systemd)"; \
	fi

# The steps a package's postinst does: the system user, the data directory,
# the configuration's group, and systemd's view of the unit.
postinstall:
	getent group hearth >/dev/null || groupadd --system hearth
	id -u hearth >/dev/null 2>&1 || useradd --system --gid hearth --home-dir $(STATEDIR) \
		--no-create-home --shell /usr/sbin/nologin --comment "hearth XMPP server" hearth
	install -d -m 0700 -o hearth -g hearth $(STATEDIR)
	chgrp hearth $(SYSCONFDIR)/hearth/hearth.toml
	if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@echo "next: edit $(SYSCONFDIR)/hearth/hearth.toml, then: systemctl enable --now hearth"

# Removes the binary, the manual page and the unit; the configuration and
# the data stay.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/hearth $(DESTDIR)$(MANDIR)/man1/hearth.1 $(DESTDIR)$(UNITDIR)/hearth.service

test:
	scripts/test
