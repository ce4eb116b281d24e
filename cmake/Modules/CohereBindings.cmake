# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
#
# cohere_add_bindings(<target> <files...>)
# Builds the pybind11 module and refuses stale bindings: each binding file names
# the public header it binds (BINDTOOL_HEADER_FILE) and that header's MD5
# (BINDTOOL_HEADER_FILE_HASH); a mismatch fails the configure step.

find_package(pybind11 REQUIRED)

function(cohere_add_bindings target)
    foreach(file ${ARGN})
        file(READ ${CMAKE_CURRENT_SOURCE_DIR}/${file} text)
        string(REGEX MATCH "BINDTOOL_HEADER_FILE\\(([^ )]+)\\)" _ "${text}")
        set(header ${CMAKE_MATCH_1})
        if(NOT header)
            continue()
        endif()
        string(REGEX MATCH "BINDTOOL_HEADER_FILE_HASH\\(([^ )]*)\\)" _ "${text}")
        set(saved ${CMAKE_MATCH_1})
        file(MD5 ${PROJECT_SOURCE_DIR}/include/gnuradio/cohere/${header} actual)
        if(NOT saved STREQUAL actual)
            message(FATAL_ERROR
                "Python bindings in ${file} are out of sync with ${header}: update the "
                "binding, then run tools/update_binding_hashes.py")
        endif()
        set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
                     ${PROJECT_SOURCE_DIR}/include/gnuradio/cohere/${header})
    endforeach()
    pybind11_add_module(${target} ${ARGN})
    target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/include)
    target_link_libraries(${target} PRIVATE Python::NumPy gnuradio-cohere)
endfunction()
