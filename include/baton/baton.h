/* SPDX-License-Identifier: MIT */
/**
 * @file baton.h
 * baton: Disruptor-style event processing for C and C++.
 * Include this header for the whole public API.
 */
#ifndef BATON_H
#define BATON_H

#include <baton/version.h>
#include <baton/common.h>
#include <baton/wait.h>
#include <baton/sequence.h>
#include <baton/memory.h>
#include <baton/ring.h>
#include <baton/sequencer.h>
#include <baton/barrier.h>
#include <baton/handler.h>
#include <baton/graph.h>
#include <baton/shm.h>

#endif /* BATON_H */
