# SPDX-License-Identifier: GPL-2.0
#
# For the Kbuild file of an out-of-tree rrelay client: set RRELAY to
# rrelay's source tree (after `make`) or its installed copy
# (`make install`: $(PREFIX)/src/rrelay), then
#
#   include $(RRELAY)/include/rrelay.mk
#   obj-m += myclient.o
#
# It puts rrelay's headers on the include path (#include <rrelay.h> or
# <rrelay_compat.h>) and gives modpost rrelay's exported symbols.
ifeq ($(RRELAY),)
$(error RRELAY is not set: rrelay's source tree or installed copy)
endif
ccflags-y += -I$(RRELAY)/include
KBUILD_EXTRA_SYMBOLS += $(RRELAY)/Module.symvers
