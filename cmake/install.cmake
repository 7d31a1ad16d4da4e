# Where `cmake --install` puts sandpit, and the Debian package CPack builds from
# the same rules (scripts/package, or `cmake --build build --target package`).
include(GNUInstallDirs)

# Each file where its tool looks for it under /usr and /usr/local. With
# `--prefix ~/.local` man-db still finds the page (it searches ../share/man
# beside each bin/ on PATH) and bash-completion the completion (it reads
# ~/.local/share/bash-completion); zsh and fish need telling (README, Install).
install(TARGETS sandpit RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES man/sandpit.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES completions/sandpit.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME sandpit)
# zsh: Debian's packages put completions in vendor-completions, which zsh
# searches only under /usr; under any other prefix the file goes to
# site-functions, which zsh searches under /usr/local. Decided when installing,
# as cpack installs into /usr from a build configured for /usr/local.
install(CODE [[
  if(CMAKE_INSTALL_PREFIX MATCHES "(^|/)usr/?$")
    set(sandpit_zsh_dir vendor-completions)
  else()
    set(sandpit_zsh_dir site-functions)
  endif()
]])
install(FILES completions/_sandpit DESTINATION "${CMAKE_INSTALL_DATADIR}/zsh/\${sandpit_zsh_dir}")
install(FILES completions/sandpit.fish DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d)
# The example config is documentation: /etc/sandpit/config.toml is the admin's
# to write, and its existence changes who may set what (README, Configuration).
install(FILES README.md config.example.toml DESTINATION ${CMAKE_INSTALL_DOCDIR})
# docs/ keeps its name so the README's links (docs/SECURITY.md) still work.
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs FILES_MATCHING PATTERN "*.md")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sandpit)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "local code interpreter: untrusted code in a Linux sandbox")
set(CPACK_PACKAGE_DESCRIPTION "sandpit runs untrusted Python, JavaScript and shell code in a sandbox
built from Linux namespaces, seccomp and cgroups on your own machine, with
sessions that keep interpreter state between runs, a REPL, an audit log,
and a Model Context Protocol server (sandpit mcp) for AI agents.")
set(SANDPIT_PACKAGE_CONTACT "sandpit maintainers <sandpit@invalid>"
    CACHE STRING "The Maintainer field of the Debian package")
set(CPACK_PACKAGE_CONTACT "${SANDPIT_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# What sandpit executes at run time: the three interpreters inside the jail
# (languages.*.command), esbuild, which strips TypeScript cells' types for the
# Node kernel (src/kernels/node_typescript.js), pip and npm for package installs
# (src/session/install.cpp), mke2fs, e2fsck, resize2fs and debugfs for the
# size-limited workspace images (src/files/quota.cpp), and fuse2fs, which mounts
# them for users who are not root (src/files/mount_keeper.cpp). The binary is a
# static PIE, so there are no shared libraries to depend on (hence no shlibdeps).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "python3, nodejs, esbuild, bash, e2fsprogs, fuse2fs, python3-pip")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
# The data stack sandboxed Python code usually expects; sandpit runs without it.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3-numpy, python3-pandas, python3-matplotlib")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bash-completion")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# The build type keeps debug info; the package does not need it.
set(CPACK_STRIP_FILES ON)
# The version is worked out at build time (cmake/version.cmake), after this
# configure step; cpack reads it from the build when it runs.
set(CPACK_SANDPIT_VERSION_FILE ${SANDPIT_GENERATED_DIR}/version.txt)
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_SOURCE_DIR}/cmake/cpack_version.cmake)
include(CPack)
