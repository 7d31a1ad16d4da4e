# Read by cpack when it runs (CPACK_PROJECT_CONFIG_FILE): the package takes the
# version the last build compiled into the binary, so `dpkg -s sandpit` and
# `sandpit --version` say the same.
if(NOT EXISTS "${CPACK_SANDPIT_VERSION_FILE}")
  message(FATAL_ERROR "no ${CPACK_SANDPIT_VERSION_FILE}: build sandpit before packaging it")
endif()
file(STRINGS "${CPACK_SANDPIT_VERSION_FILE}" sandpit_version LIMIT_COUNT 1)
set(CPACK_PACKAGE_VERSION "${sandpit_version}")
set(CPACK_DEBIAN_PACKAGE_VERSION "${sandpit_version}")
