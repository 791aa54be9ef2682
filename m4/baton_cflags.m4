# SPDX-License-Identifier: MIT
# BATON_CHECK_CFLAG(FLAG, VARIABLE)
# Append FLAG to VARIABLE when the C compiler accepts it (with -Werror, so
# that a flag the compiler only warns about is not taken).
AC_DEFUN([BATON_CHECK_CFLAG], [
	AS_VAR_PUSHDEF([baton_cv], [baton_cv_cflag_$1])
	AC_CACHE_CHECK([whether $CC accepts $1], [baton_cv], [
		baton_save_CFLAGS=$CFLAGS
		CFLAGS="$CFLAGS -Werror $1"
		AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
			[AS_VAR_SET([baton_cv], [yes])], [AS_VAR_SET([baton_cv], [no])])
		CFLAGS=$baton_save_CFLAGS])
	AS_VAR_IF([baton_cv], [yes], [$2="$$2 $1"])
	AS_VAR_POPDEF([baton_cv])
])

# BATON_REQUIRE_PKG(VARIABLE-PREFIX, MODULE, DEBIAN-PACKAGE, [EXTRA-HINT])
# Find MODULE with pkg-config or stop, naming the Debian package to install.
AC_DEFUN([BATON_REQUIRE_PKG], [
	PKG_CHECK_MODULES([$1], [$2], [],
		[AC_MSG_ERROR([$2 was not found with pkg-config: install the Debian package $3 (apt-get install $3)$4])])
])
