/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_API_H
#define INCLUDED_COHERE_API_H

#include <gnuradio/attributes.h>

#ifdef gnuradio_cohere_EXPORTS
#define COHERE_API __GR_ATTR_EXPORT
#else
#define COHERE_API __GR_ATTR_IMPORT
#endif

#endif /* INCLUDED_COHERE_API_H */
