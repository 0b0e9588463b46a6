# Warren — one non-recursive Makefile for the library, the six programs, tests, docs.
# Quiet unless V=1; honours PREFIX, DESTDIR, MANDIR; -MMD -MP dependency tracking; ccache if present.

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=
BUILD   ?= build
# Build in parallel on every core by default (make -jN on the command line still wins).
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(JOBS)
endif
VERSION := $(shell git describe --tags --always 2>/dev/null || echo 0.1.0)

CCACHE  := $(shell command -v ccache 2>/dev/null)
CXX     := $(CCACHE) g++
CXXSTD  := -std=c++20
OPT     ?= -O2
WARN    := -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
DEFS    := -DBOOST_ASIO_SEPARATE_COMPILATION -DBOOST_BEAST_SEPARATE_COMPILATION \
           -DBOOST_ASIO_NO_DEPRECATED -DSPDLOG_SHARED_LIB -DSPDLOG_COMPILED_LIB -DSPDLOG_FMT_EXTERNAL \
           -DTOML_HEADER_ONLY=0 -DTOML_SHARED_LIB=1 -DWARREN_VERSION='"$(VERSION)"'
CPPFLAGS += -Ilib -I$(BUILD)/gen $(DEFS)
CXXFLAGS ?= $(OPT)
CXXFLAGS += $(CXXSTD) $(WARN) -pthread -MMD -MP
LDLIBS  := -lssl -lcrypto -lsodium -lsqlite3 -lspdlog -lfmt -ltomlplusplus -lmaxminddb \
           -lboost_json -lboost_url -lboost_system -pthread

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Everything in lib/ goes into one static archive; each program links what it uses.
# LIB_DIRS / UNIT_DIRS narrow a build to some capabilities (parallel work in separate BUILD dirs).
LIB_DIRS  ?= lib
UNIT_DIRS ?= tests/unit
LIB_SRC   := $(shell find $(LIB_DIRS) -name '*.cpp' | sort)
MIGRATIONS := $(sort $(wildcard lib/store/migrations/*.sql))
GEN_SRC   := $(BUILD)/gen/store_migrations.cpp
LIB_OBJ   := $(LIB_SRC:%.cpp=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/store_migrations.o
# A narrowed build gets its own archive, so it never passes for the full one.
LIBWARREN := $(BUILD)/libwarren$(if $(filter-out lib,$(LIB_DIRS)),-$(words $(LIB_DIRS))dirs).a

PROGS     := $(notdir $(patsubst %/,%,$(wildcard cmd/*/)))
BINS      := $(PROGS:%=$(BUILD)/bin/%)

UNIT_SRC  := $(sort tests/unit/main.cpp $(shell find $(UNIT_DIRS) -name '*_test.cpp' 2>/dev/null))
UNIT_OBJ  := $(UNIT_SRC:%.cpp=$(BUILD)/obj/%.o)
UNIT_BIN  := $(BUILD)/bin/unit-tests

FUZZ_SRC  := $(wildcard tests/fuzz/*_fuzz.cpp)
FUZZ_BINS := $(FUZZ_SRC:tests/fuzz/%_fuzz.cpp=$(BUILD)/bin/fuzz-%)

DEPS_STAMP := $(BUILD)/.deps-ok

# Keep object files of programs (they are not intermediates to delete after linking).
.SECONDARY:

.PHONY: all deps check test unit cli fuzz-regress fuzz format format-check install demo bench clean completions

all: deps $(BINS)

# Install Debian packages when something is missing: one dpkg-query, well under a second when
# everything is there, so it runs on every build; the stamp only orders compilation after it.
deps: $(DEPS_STAMP)
$(DEPS_STAMP): FORCE
	$(Q)scripts/install-deps -q
	$(Q)mkdir -p $(BUILD) && touch $@
FORCE:

$(BUILD)/gen/store_migrations.cpp: $(MIGRATIONS) scripts/gen-migrations
	$(Q)mkdir -p $(dir $@)
	$(Q)scripts/gen-migrations $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: %.cpp | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CXX     $<")
	$(Q)$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.cpp | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CXX     $<")
	$(Q)$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

$(LIBWARREN): $(LIB_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

prog_objs = $(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard cmd/$(1)/*.cpp))
.SECONDEXPANSION:
$(BUILD)/bin/%: $$(call prog_objs,$$*) $(LIBWARREN)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CXX) $(CXXFLAGS) -o $@ $(filter %.o,$^) $(LIBWARREN) $(LDLIBS)

$(UNIT_BIN): $(UNIT_OBJ) $(LIBWARREN)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CXX) $(CXXFLAGS) -o $@ $(UNIT_OBJ) $(LIBWARREN) $(LDLIBS)

$(BUILD)/bin/fuzz-%: tests/fuzz/%_fuzz.cpp tests/fuzz/driver.cpp $(LIBWARREN)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CXX) $(CPPFLAGS) $(filter-out -MMD -MP,$(CXXFLAGS)) -o $@ tests/fuzz/$*_fuzz.cpp tests/fuzz/driver.cpp $(LIBWARREN) $(LDLIBS)

completions: $(BINS)
	$(Q)scripts/gen-completions $(BUILD)/bin completions

# make check: install what is missing, build, run every suite, print "N passed, N failed" last.
check: deps all $(UNIT_BIN) $(FUZZ_BINS)
	$(Q)BUILD=$(BUILD) tests/run-all

unit: $(UNIT_BIN)
	$(Q)$(UNIT_BIN)

format:
	$(Q)clang-format -i $$(find cmd lib tests -name '*.cpp' -o -name '*.h' | grep -v '^tests/fuzz/corpus')

format-check:
	$(Q)clang-format --dry-run --Werror $$(find cmd lib tests -name '*.cpp' -o -name '*.h' | grep -v '^tests/fuzz/corpus')

# libFuzzer builds with clang (optional, not part of check): make fuzz FUZZ=pem
fuzz: $(LIB_SRC)
	$(Q)scripts/fuzz $(FUZZ)

demo: deps all
	$(Q)scripts/demo $(DEMO_ARGS)

# Every benchmark script; one that cannot run here (exit 77: not root, a peer missing) is skipped.
bench: deps all
	$(Q)for s in scripts/bench/*.sh; do BUILD=$(BUILD) sh $$s; rc=$$?; \
	  if [ $$rc -eq 77 ]; then echo "bench: $$s skipped"; elif [ $$rc -ne 0 ]; then exit 1; fi; done

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	  $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	for m in man/*.[1-8]; do s=$${m##*.}; install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	for p in $(PROGS); do \
	  install -m 0644 completions/$$p.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$p; \
	  install -m 0644 completions/zsh/_$$p $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_$$p; \
	  install -m 0644 completions/fish/$$p.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$p.fish; \
	done

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
