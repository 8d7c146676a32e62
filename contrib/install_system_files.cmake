# Run by `cmake --install` (contrib/CMakeLists.txt) with TNODE_CONTRIB_DIR
# set: installs the files that live outside the prefix on a Debian system.
# CMAKE_INSTALL_PREFIX is the one given at install time (--prefix), so the
# choice follows it; file(INSTALL) prepends DESTDIR and records each file in
# install_manifest.txt.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(etc_dir "/etc")
  set(unit_dir "/lib/systemd/system")
else()
  set(etc_dir "${CMAKE_INSTALL_PREFIX}/etc")
  set(unit_dir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()

file(INSTALL DESTINATION "${unit_dir}" TYPE FILE FILES "${TNODE_CONTRIB_DIR}/systemd/tnode.service")
file(INSTALL DESTINATION "${etc_dir}/logrotate.d" TYPE FILE FILES "${TNODE_CONTRIB_DIR}/logrotate/tnode")

# An operator's configuration is never replaced by the example.
if(EXISTS "$ENV{DESTDIR}${etc_dir}/tnode/tnode.toml")
  message(STATUS "Kept (not replaced by the example): $ENV{DESTDIR}${etc_dir}/tnode/tnode.toml")
else()
  file(INSTALL DESTINATION "${etc_dir}/tnode" TYPE FILE FILES "${TNODE_CONTRIB_DIR}/tnode.toml")
endif()
