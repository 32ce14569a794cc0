# Installation (cmake --install) and Debian packages (cpack -G DEB), one
# package per program: weft-controller, weft-relay (with weft-relay-probe)
# and weft-agent, each with its systemd unit and an example config in
# /etc/weft (a conffile). Configure with -DCMAKE_INSTALL_PREFIX=/usr for
# packages, so the units and /etc land where Debian keeps them; library
# dependencies come from dpkg-shlibdeps (docs/deploy.md).
include(GNUInstallDirs)

set(WEFT_BINDIR ${CMAKE_INSTALL_FULL_BINDIR})
set(WEFT_SYSCONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR})
set(WEFT_UNITDIR ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)

foreach(comp controller relay agent)
  configure_file(${PROJECT_SOURCE_DIR}/dist/systemd/weft-${comp}.service.in
                 ${PROJECT_BINARY_DIR}/dist/weft-${comp}.service @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/dist/weft-${comp}.service
          DESTINATION ${WEFT_UNITDIR} COMPONENT ${comp})
  install(FILES ${PROJECT_SOURCE_DIR}/dist/etc/${comp}.conf
          DESTINATION ${WEFT_SYSCONFDIR}/weft COMPONENT ${comp})
  file(WRITE ${PROJECT_BINARY_DIR}/dist/${comp}/conffiles
       "${WEFT_SYSCONFDIR}/weft/${comp}.conf\n")
endforeach()

set(CPACK_PACKAGE_NAME weft)
set(CPACK_PACKAGE_VENDOR "Weft")
set(CPACK_PACKAGE_CONTACT "Weft developers <weft@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Weft: a self-hosted zero-trust mesh network")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_GENERATOR DEB)
set(CPACK_COMPONENTS_ALL controller relay agent)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/weft-mesh/weft")

set(CPACK_DEBIAN_CONTROLLER_PACKAGE_NAME weft-controller)
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_DEPENDS "adduser")
set(CPACK_COMPONENT_CONTROLLER_DESCRIPTION
    "Weft controller: REST API, web UI, ACL policy and network maps (SQLite or PostgreSQL)")
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_CONTROL_EXTRA
    ${PROJECT_BINARY_DIR}/dist/controller/conffiles
    ${PROJECT_BINARY_DIR}/dist/controller/postinst
    ${PROJECT_SOURCE_DIR}/dist/deb/postrm)
set(CPACK_DEBIAN_RELAY_PACKAGE_NAME weft-relay)
set(CPACK_COMPONENT_RELAY_DESCRIPTION
    "Weft relay: stateless QUIC relay with address discovery and STUN")
set(CPACK_DEBIAN_RELAY_PACKAGE_CONTROL_EXTRA
    ${PROJECT_BINARY_DIR}/dist/relay/conffiles
    ${PROJECT_BINARY_DIR}/dist/relay/postinst
    ${PROJECT_SOURCE_DIR}/dist/deb/postrm)
set(CPACK_DEBIAN_AGENT_PACKAGE_NAME weft-agent)
set(CPACK_COMPONENT_AGENT_DESCRIPTION
    "Weft agent: joins a machine to the mesh (TUN, end-to-end QUIC tunnels, DNS)")
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA
    ${PROJECT_BINARY_DIR}/dist/agent/conffiles
    ${PROJECT_BINARY_DIR}/dist/agent/postinst
    ${PROJECT_SOURCE_DIR}/dist/deb/postrm)
# CONTROL_EXTRA keeps the files' modes: copy the scripts executable.
file(COPY ${PROJECT_SOURCE_DIR}/dist/deb/controller-postinst
     DESTINATION ${PROJECT_BINARY_DIR}/dist/controller
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
                      GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
file(RENAME ${PROJECT_BINARY_DIR}/dist/controller/controller-postinst
     ${PROJECT_BINARY_DIR}/dist/controller/postinst)
foreach(comp relay agent)
  file(COPY ${PROJECT_SOURCE_DIR}/dist/deb/postinst
       DESTINATION ${PROJECT_BINARY_DIR}/dist/${comp}
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
                        GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endforeach()
include(CPack)
