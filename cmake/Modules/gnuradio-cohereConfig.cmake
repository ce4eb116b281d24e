find_package(PkgConfig)

PKG_CHECK_MODULES(PC_GR_COHERE gnuradio-cohere)

FIND_PATH(
    GR_COHERE_INCLUDE_DIRS
    NAMES gnuradio/cohere/api.h
    HINTS $ENV{COHERE_DIR}/include
        ${PC_COHERE_INCLUDEDIR}
    PATHS ${CMAKE_INSTALL_PREFIX}/include
          /usr/local/include
          /usr/include
)

FIND_LIBRARY(
    GR_COHERE_LIBRARIES
    NAMES gnuradio-cohere
    HINTS $ENV{COHERE_DIR}/lib
        ${PC_COHERE_LIBDIR}
    PATHS ${CMAKE_INSTALL_PREFIX}/lib
          ${CMAKE_INSTALL_PREFIX}/lib64
          /usr/local/lib
          /usr/local/lib64
          /usr/lib
          /usr/lib64
          )

include("${CMAKE_CURRENT_LIST_DIR}/gnuradio-cohereTarget.cmake")

INCLUDE(FindPackageHandleStandardArgs)
FIND_PACKAGE_HANDLE_STANDARD_ARGS(GR_COHERE DEFAULT_MSG GR_COHERE_LIBRARIES GR_COHERE_INCLUDE_DIRS)
MARK_AS_ADVANCED(GR_COHERE_LIBRARIES GR_COHERE_INCLUDE_DIRS)
