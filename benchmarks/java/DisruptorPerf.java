// SPDX-License-Identifier: MIT
/*
 * The Java baseline of baton's benchmarks: the LMAX Disruptor itself (3.4.x,
 * Debian package libdisruptor-java) running the tests of the C suite with the
 * same parameters as LMAX's own perftests (OneToOneSequencedThroughputTest,
 * OneToThreePipelineSequencedThroughputTest, ...), so that the numbers of the
 * C programs have the original next to them.
 *
 *   java -cp /usr/share/java/disruptor.jar:CLASSES DisruptorPerf --test NAME
 *        [--events N] [--runs R] [--wait busy-spin|yield|block] [--json FILE]
 *
 * Each test is built from the Disruptor's low-level API (RingBuffer,
 * BatchEventProcessor, WorkerPool), as LMAX's perftests do, on fresh objects
 * for every run. One warm-up run (for the JIT) is discarded, then R runs are
 * timed; every run, the warm-up included, checks its result and the program
 * exits 1 saying why if it is wrong (2 on bad usage).
 *
 * Throughput is events divided by the time from the producer's first claim
 * to the last event handled by the last stage, as in the C programs (LMAX
 * takes System.currentTimeMillis() around the whole pass instead). Threads
 * are not pinned: Java has no affinity API. Where a test departs from
 * LMAX's to match the C programs, its comment (and benchmarks/README.md)
 * says how.
 */

import com.lmax.disruptor.BatchEventProcessor;
import com.lmax.disruptor.BlockingWaitStrategy;
import com.lmax.disruptor.BusySpinWaitStrategy;
import com.lmax.disruptor.EventHandler;
import com.lmax.disruptor.EventProcessor;
import com.lmax.disruptor.ExceptionHandler;
import com.lmax.disruptor.LifecycleAware;
import com.lmax.disruptor.RingBuffer;
import com.lmax.disruptor.SequenceBarrier;
import com.lmax.disruptor.WaitStrategy;
import com.lmax.disruptor.WorkHandler;
import com.lmax.disruptor.WorkerPool;
import com.lmax.disruptor.YieldingWaitStrategy;

import java.io.FileWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.Writer;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;

public final class DisruptorPerf {
    static final String PROGRAM = "DisruptorPerf";
    static final String IMPL = "java-disruptor";
    static final int BATCH = 10; /* events per claim in the -batch tests, as LMAX */
    static final int MAX_RUNS = 1000;
    static final String[] WAITS = { "busy-spin", "yield", "block" };

    private DisruptorPerf() {
    }

    /* ---- failures ---------------------------------------------------------- */

    /** Says why and ends the process: a wrong result must never look like a number. */
    static void fail(String test, String why) {
        System.out.flush();
        System.err.println(PROGRAM + ": " + test + ": " + why);
        System.err.flush();
        Runtime.getRuntime().halt(1); /* exit() could wait for a spinning thread */
    }

    /* A handler that throws must not leave the main thread waiting for its latch. */
    static final ExceptionHandler<Object> FATAL = new ExceptionHandler<Object>() {
        @Override
        public void handleEventException(Throwable ex, long sequence, Object event) {
            ex.printStackTrace();
            fail("handler", "exception at sequence " + sequence + ": " + ex);
        }

        @Override
        public void handleOnStartException(Throwable ex) {
            ex.printStackTrace();
            fail("handler", "exception at start: " + ex);
        }

        @Override
        public void handleOnShutdownException(Throwable ex) {
            ex.printStackTrace();
            fail("handler", "exception at shutdown: " + ex);
        }
    };

    static Thread start(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.setUncaughtExceptionHandler((th, ex) -> {
            ex.printStackTrace();
            fail(th.getName(), "uncaught " + ex);
        });
        t.start();
        return t;
    }

    static <T> BatchEventProcessor<T> processor(RingBuffer<T> ring, SequenceBarrier barrier,
                                                EventHandler<? super T> handler) {
        BatchEventProcessor<T> p = new BatchEventProcessor<>(ring, barrier, handler);
        p.setExceptionHandler(FATAL);
        return p;
    }

    /** Starts one thread per processor and returns once all of them run. */
    static Thread[] startAll(String test, EventProcessor... ps) {
        Thread[] ts = new Thread[ps.length];
        for (int i = 0; i < ps.length; i++)
            ts[i] = start(ps[i], test + "-consumer-" + (i + 1));
        for (EventProcessor p : ps)
            while (!p.isRunning())
                Thread.yield();
        return ts;
    }

    static void haltAll(EventProcessor[] ps, Thread[] ts) throws InterruptedException {
        for (EventProcessor p : ps)
            p.halt();
        for (Thread t : ts)
            t.join();
    }

    static WaitStrategy newWait(String kind) {
        switch (kind) {
        case "busy-spin":
            return new BusySpinWaitStrategy();
        case "yield":
            return new YieldingWaitStrategy();
        case "block":
            return new BlockingWaitStrategy();
        default:
            throw new IllegalArgumentException(kind);
        }
    }

    /** Sum of 0..n-1 modulo 2^64, as the handlers' long sums wrap. */
    static long expectedSum(long n) {
        return n % 2 == 0 ? (n / 2) * (n - 1) : n * ((n - 1) / 2);
    }

    /* ---- events ------------------------------------------------------------ */

    static final class ValueEvent {
        long value;
    }

    static final class FunctionEvent {
        long operandOne;
        long operandTwo;
        long stepOneResult;
        long stepTwoResult;
    }

    static final class FizzBuzzEvent {
        long value;
        boolean fizz;
        boolean buzz;
    }

    /* ---- the tests ----------------------------------------------------------- */

    abstract static class Test {
        final String name;
        final String title; /* for the header and the summary */
        final int ring;
        final int threads; /* that run at once: decides "oversubscribed" */
        final long defaultEvents;

        Test(String name, String title, int ring, int threads, long defaultEvents) {
            this.name = name;
            this.title = title;
            this.ring = ring;
            this.threads = threads;
            this.defaultEvents = defaultEvents;
        }

        /** Computes the expected results for n events, once per process. */
        void prepare(long n) {
        }

        /** One run of n events; checks its result; returns its duration in ns. */
        abstract long run(long n, String wait) throws Exception;
    }

    /* unicast and unicast-batch: 1P -> 1C summing longs (OneToOneSequenced...).
     * The batch producer publishes 0..N-1 like the C one (LMAX's writes the
     * batch number into all 10 slots of a batch). */

    static final class SumHandler implements EventHandler<ValueEvent> {
        private final long last;
        private final CountDownLatch done;
        long sum;
        long endNs;

        SumHandler(long last, CountDownLatch done) {
            this.last = last;
            this.done = done;
        }

        @Override
        public void onEvent(ValueEvent e, long sequence, boolean endOfBatch) {
            sum += e.value;
            if (sequence == last) {
                endNs = System.nanoTime();
                done.countDown();
            }
        }
    }

    static final class Unicast extends Test {
        private final boolean batch;

        Unicast(boolean batch) {
            super(batch ? "unicast-batch" : "unicast",
                  batch ? "1 producer -> 1 consumer, claims of " + BATCH : "1 producer -> 1 consumer",
                  65536, 2, 100_000_000L);
            this.batch = batch;
        }

        @Override
        long run(long n, String wait) throws Exception {
            RingBuffer<ValueEvent> rb = RingBuffer.createSingleProducer(ValueEvent::new, ring,
                                                                        newWait(wait));
            CountDownLatch done = new CountDownLatch(1);
            SumHandler h = new SumHandler(n - 1, done);
            BatchEventProcessor<ValueEvent> p = processor(rb, rb.newBarrier(), h);
            rb.addGatingSequences(p.getSequence());
            EventProcessor[] ps = { p };
            Thread[] ts = startAll(name, ps);

            /* The producer is this thread, as in LMAX's tests. */
            long t0 = System.nanoTime();
            if (batch) {
                long i = 0;
                while (i < n) {
                    int k = (int) Math.min(BATCH, n - i);
                    long hi = rb.next(k);
                    long lo = hi - (k - 1);
                    for (long s = lo; s <= hi; s++)
                        rb.get(s).value = i++;
                    rb.publish(lo, hi);
                }
            } else {
                for (long i = 0; i < n; i++) {
                    long s = rb.next();
                    rb.get(s).value = i;
                    rb.publish(s);
                }
            }
            done.await();
            haltAll(ps, ts);
            if (h.sum != expectedSum(n))
                fail(name, "sum " + h.sum + ", expected " + expectedSum(n) + ": WRONG");
            return h.endNs - t0;
        }
    }

    /* pipeline: 1P -> stage 1 -> stage 2 -> stage 3 (OneToThreePipelineSequenced...). */

    static final long OPERAND_TWO_INITIAL = 777;

    static final class StepHandler implements EventHandler<FunctionEvent> {
        private final int step;
        private final long last;
        private final CountDownLatch done;
        long count;
        long endNs;

        StepHandler(int step, long last, CountDownLatch done) {
            this.step = step;
            this.last = last;
            this.done = done;
        }

        @Override
        public void onEvent(FunctionEvent e, long sequence, boolean endOfBatch) {
            switch (step) {
            case 1:
                e.stepOneResult = e.operandOne + e.operandTwo;
                break;
            case 2:
                e.stepTwoResult = e.stepOneResult + 3;
                break;
            default:
                if ((e.stepTwoResult & 4L) == 4L)
                    count++;
                if (sequence == last) {
                    endNs = System.nanoTime();
                    done.countDown();
                }
                break;
            }
        }
    }

    static final class Pipeline extends Test {
        private long expected;

        Pipeline() {
            super("pipeline", "1 producer -> 3-stage pipeline", 8192, 4, 100_000_000L);
        }

        @Override
        void prepare(long n) {
            long count = 0, operandTwo = OPERAND_TWO_INITIAL;
            for (long i = 0; i < n; i++) {
                long stepOne = i + operandTwo--;
                long stepTwo = stepOne + 3;
                if ((stepTwo & 4L) == 4L)
                    count++;
            }
            expected = count;
        }

        @Override
        long run(long n, String wait) throws Exception {
            RingBuffer<FunctionEvent> rb = RingBuffer.createSingleProducer(FunctionEvent::new, ring,
                                                                           newWait(wait));
            CountDownLatch done = new CountDownLatch(1);
            StepHandler h1 = new StepHandler(1, n - 1, done);
            StepHandler h2 = new StepHandler(2, n - 1, done);
            StepHandler h3 = new StepHandler(3, n - 1, done);
            BatchEventProcessor<FunctionEvent> p1 = processor(rb, rb.newBarrier(), h1);
            BatchEventProcessor<FunctionEvent> p2 = processor(rb, rb.newBarrier(p1.getSequence()), h2);
            BatchEventProcessor<FunctionEvent> p3 = processor(rb, rb.newBarrier(p2.getSequence()), h3);
            rb.addGatingSequences(p3.getSequence());
            EventProcessor[] ps = { p1, p2, p3 };
            Thread[] ts = startAll(name, ps);

            long t0 = System.nanoTime();
            long operandTwo = OPERAND_TWO_INITIAL;
            for (long i = 0; i < n; i++) {
                long s = rb.next();
                FunctionEvent e = rb.get(s);
                e.operandOne = i;
                e.operandTwo = operandTwo--;
                rb.publish(s);
            }
            done.await();
            haltAll(ps, ts);
            if (h3.count != expected)
                fail(name, "stage 3 counted " + h3.count + ", expected " + expected + ": WRONG");
            return h3.endNs - t0;
        }
    }

    /* diamond: fizz and buzz on the root barrier, fizzbuzz after both
     * (OneToThreeDiamondSequenced...). */

    static final int FIZZ = 0, BUZZ = 1, FIZZ_BUZZ = 2;

    static final class FizzBuzzHandler implements EventHandler<FizzBuzzEvent> {
        private final int step;
        private final long last;
        private final CountDownLatch done;
        long count;
        long endNs;

        FizzBuzzHandler(int step, long last, CountDownLatch done) {
            this.step = step;
            this.last = last;
            this.done = done;
        }

        @Override
        public void onEvent(FizzBuzzEvent e, long sequence, boolean endOfBatch) {
            switch (step) {
            case FIZZ:
                e.fizz = e.value % 3 == 0;
                break;
            case BUZZ:
                e.buzz = e.value % 5 == 0;
                break;
            default:
                if (e.fizz && e.buzz)
                    count++;
                if (sequence == last) {
                    endNs = System.nanoTime();
                    done.countDown();
                }
                break;
            }
        }
    }

    static final class Diamond extends Test {
        private long expected;

        Diamond() {
            super("diamond", "1 producer -> fizz, buzz -> fizzbuzz (diamond)", 8192, 4,
                  100_000_000L);
        }

        @Override
        void prepare(long n) {
            long count = 0;
            for (long i = 0; i < n; i++)
                if (i % 3 == 0 && i % 5 == 0)
                    count++;
            expected = count;
        }

        @Override
        long run(long n, String wait) throws Exception {
            RingBuffer<FizzBuzzEvent> rb = RingBuffer.createSingleProducer(FizzBuzzEvent::new, ring,
                                                                           newWait(wait));
            CountDownLatch done = new CountDownLatch(1);
            FizzBuzzHandler fizz = new FizzBuzzHandler(FIZZ, n - 1, done);
            FizzBuzzHandler buzz = new FizzBuzzHandler(BUZZ, n - 1, done);
            FizzBuzzHandler both = new FizzBuzzHandler(FIZZ_BUZZ, n - 1, done);
            SequenceBarrier root = rb.newBarrier();
            BatchEventProcessor<FizzBuzzEvent> pf = processor(rb, root, fizz);
            BatchEventProcessor<FizzBuzzEvent> pb = processor(rb, root, buzz);
            BatchEventProcessor<FizzBuzzEvent> pfb =
                processor(rb, rb.newBarrier(pf.getSequence(), pb.getSequence()), both);
            rb.addGatingSequences(pfb.getSequence());
            EventProcessor[] ps = { pf, pb, pfb };
            Thread[] ts = startAll(name, ps);

            long t0 = System.nanoTime();
            for (long i = 0; i < n; i++) {
                long s = rb.next();
                rb.get(s).value = i;
                rb.publish(s);
            }
            done.await();
            haltAll(ps, ts);
            if (both.count != expected)
                fail(name, "fizzbuzz counted " + both.count + ", expected " + expected + ": WRONG");
            return both.endNs - t0;
        }
    }

    /* multicast: 1P -> 3 independent consumers (OneToThreeSequenced...). */

    static final int ADD = 0, SUB = 1, AND = 2;
    static final String[] OP_NAMES = { "acc + v", "acc - v", "acc & v" };

    static long apply(int op, long acc, long v) {
        switch (op) {
        case ADD:
            return acc + v;
        case SUB:
            return acc - v;
        default:
            return acc & v;
        }
    }

    static final class MutationHandler implements EventHandler<ValueEvent> {
        private final int op;
        private final long last;
        private final CountDownLatch done;
        long acc;
        long endNs;

        MutationHandler(int op, long last, CountDownLatch done) {
            this.op = op;
            this.last = last;
            this.done = done;
        }

        @Override
        public void onEvent(ValueEvent e, long sequence, boolean endOfBatch) {
            acc = apply(op, acc, e.value);
            if (sequence == last) {
                endNs = System.nanoTime();
                done.countDown();
            }
        }
    }

    static final class Multicast extends Test {
        private final long[] expected = new long[3];

        Multicast() {
            super("multicast", "1 producer -> 3 consumers (multicast)", 8192, 4, 100_000_000L);
        }

        @Override
        void prepare(long n) {
            Arrays.fill(expected, 0);
            for (long i = 0; i < n; i++)
                for (int op = 0; op < 3; op++)
                    expected[op] = apply(op, expected[op], i);
        }

        @Override
        long run(long n, String wait) throws Exception {
            RingBuffer<ValueEvent> rb = RingBuffer.createSingleProducer(ValueEvent::new, ring,
                                                                        newWait(wait));
            CountDownLatch done = new CountDownLatch(3);
            SequenceBarrier root = rb.newBarrier();
            MutationHandler[] hs = new MutationHandler[3];
            BatchEventProcessor<?>[] ps = new BatchEventProcessor<?>[3];
            for (int op = 0; op < 3; op++) {
                hs[op] = new MutationHandler(op, n - 1, done);
                BatchEventProcessor<ValueEvent> p = processor(rb, root, hs[op]);
                rb.addGatingSequences(p.getSequence());
                ps[op] = p;
            }
            Thread[] ts = startAll(name, ps);

            long t0 = System.nanoTime();
            for (long i = 0; i < n; i++) {
                long s = rb.next();
                rb.get(s).value = i;
                rb.publish(s);
            }
            done.await();
            haltAll(ps, ts);
            long end = 0;
            for (int op = 0; op < 3; op++) {
                if (hs[op].acc != expected[op])
                    fail(name, "consumer " + (op + 1) + " (" + OP_NAMES[op] + ") got " + hs[op].acc
                                   + ", expected " + expected[op] + ": WRONG");
                end = Math.max(end, hs[op].endNs);
            }
            return end - t0;
        }
    }

    /* 3p1c and 3p1c-batch: 3 producers -> 1 consumer on a multi-producer ring
     * (ThreeToOneSequenced...). LMAX gives each producer ITERATIONS / 3 events
     * (19,999,998 in all); here the remainder goes to the first producers, so
     * that exactly --events are published. Producer k publishes 0..n_k-1. */

    static final int PRODUCERS = 3;

    static long share(long n, int k) {
        return n / PRODUCERS + (k < n % PRODUCERS ? 1 : 0);
    }

    static final class ThreeToOne extends Test {
        private final boolean batch;

        ThreeToOne(boolean batch) {
            super(batch ? "3p1c-batch" : "3p1c",
                  batch ? "3 producers -> 1 consumer, claims of " + BATCH
                        : "3 producers -> 1 consumer",
                  65536, 4, 20_000_000L);
            this.batch = batch;
        }

        @Override
        long run(long n, String wait) throws Exception {
            RingBuffer<ValueEvent> rb = RingBuffer.createMultiProducer(ValueEvent::new, ring,
                                                                       newWait(wait));
            CountDownLatch done = new CountDownLatch(1);
            SumHandler h = new SumHandler(n - 1, done);
            BatchEventProcessor<ValueEvent> p = processor(rb, rb.newBarrier(), h);
            rb.addGatingSequences(p.getSequence());
            EventProcessor[] ps = { p };
            Thread[] ts = startAll(name, ps);

            CyclicBarrier gate = new CyclicBarrier(PRODUCERS);
            long[] starts = new long[PRODUCERS];
            Thread[] producers = new Thread[PRODUCERS];
            long expected = 0;
            for (int k = 0; k < PRODUCERS; k++) {
                final int id = k;
                final long count = share(n, k);
                expected += expectedSum(count);
                producers[k] = start(() -> {
                    awaitGate(name, gate);
                    starts[id] = System.nanoTime();
                    if (batch)
                        publishBatches(rb, count);
                    else
                        publishSingles(rb, count);
                }, name + "-producer-" + (k + 1));
            }
            for (Thread t : producers)
                t.join();
            done.await();
            haltAll(ps, ts);
            if (h.sum != expected)
                fail(name, "sum " + h.sum + ", expected " + expected + ": WRONG");
            long t0 = Long.MAX_VALUE;
            for (long s : starts)
                t0 = Math.min(t0, s);
            return h.endNs - t0;
        }

        private static void publishSingles(RingBuffer<ValueEvent> rb, long count) {
            for (long i = 0; i < count; i++) {
                long s = rb.next();
                rb.get(s).value = i;
                rb.publish(s);
            }
        }

        private static void publishBatches(RingBuffer<ValueEvent> rb, long count) {
            long i = 0;
            while (i < count) {
                int k = (int) Math.min(BATCH, count - i);
                long hi = rb.next(k);
                long lo = hi - (k - 1);
                for (long s = lo; s <= hi; s++)
                    rb.get(s).value = i++;
                rb.publish(lo, hi);
            }
        }
    }

    static void awaitGate(String test, CyclicBarrier gate) {
        try {
            gate.await(60, TimeUnit.SECONDS);
        } catch (Exception ex) {
            fail(test, "threads did not meet at the start: " + ex);
        }
    }

    /* workers: 1P -> a WorkerPool of 3, each event to exactly one worker
     * (OneToThreeWorkerPoolThroughputTest). */

    /* The workers' counters live in one array, 128 bytes apart, so that no
     * two share a cache line (LMAX uses PaddedLong, not in 3.4's jar). */
    static final int COUNTER_STRIDE = 16;

    static final class CountingWorker implements WorkHandler<ValueEvent> {
        private final long[] counters;
        private final int slot;

        CountingWorker(long[] counters, int worker) {
            this.counters = counters;
            this.slot = (worker + 1) * COUNTER_STRIDE;
        }

        @Override
        public void onEvent(ValueEvent e) {
            counters[slot]++;
        }
    }

    static final int WORKERS = 3;

    static final class Workers extends Test {
        Workers() {
            super("workers", "1 producer -> worker pool of 3", 8192, 4, 100_000_000L);
        }

        @Override
        long run(long n, String wait) throws Exception {
            RingBuffer<ValueEvent> rb = RingBuffer.createSingleProducer(ValueEvent::new, ring,
                                                                        newWait(wait));
            long[] counters = new long[(WORKERS + 2) * COUNTER_STRIDE];
            CountingWorker[] hs = new CountingWorker[WORKERS];
            for (int w = 0; w < WORKERS; w++)
                hs[w] = new CountingWorker(counters, w);
            WorkerPool<ValueEvent> pool = new WorkerPool<>(rb, rb.newBarrier(), FATAL, hs);
            rb.addGatingSequences(pool.getWorkerSequences());
            List<Thread> ts = new ArrayList<>();
            pool.start(r -> ts.add(start(r, name + "-worker-" + (ts.size() + 1))));

            long t0 = System.nanoTime();
            for (long i = 0; i < n; i++) {
                long s = rb.next();
                rb.get(s).value = i;
                rb.publish(s);
            }
            /* No single worker sees the last event: the end is when every
             * worker's sequence has passed the cursor, as in LMAX's test. */
            pool.drainAndHalt();
            long t1 = System.nanoTime();
            for (Thread t : ts)
                t.join();
            long total = 0;
            for (int w = 0; w < WORKERS; w++)
                total += counters[(w + 1) * COUNTER_STRIDE];
            if (total != n)
                fail(name, "the workers handled " + total + " events, expected " + n + ": WRONG");
            return t1 - t0;
        }
    }

    /* pingpong: round-trip latency between two threads over two rings of 1024
     * (PingPongSequencedLatencyTest, without its 1 us pause between pings). */

    static final class Pinger implements EventHandler<ValueEvent>, LifecycleAware {
        private final String test;
        private final RingBuffer<ValueEvent> ping;
        private final long trips;
        private final Histogram histogram;
        private final CyclicBarrier gate;
        private final CountDownLatch done;
        long received;
        long startNs;
        long endNs;

        Pinger(String test, RingBuffer<ValueEvent> ping, long trips, Histogram histogram,
               CyclicBarrier gate, CountDownLatch done) {
            this.test = test;
            this.ping = ping;
            this.trips = trips;
            this.histogram = histogram;
            this.gate = gate;
            this.done = done;
        }

        private void send() {
            long t = System.nanoTime();
            long s = ping.next();
            ping.get(s).value = t; /* the ping carries its send time */
            ping.publish(s);
        }

        @Override
        public void onStart() {
            awaitGate(test, gate);
            startNs = System.nanoTime();
            send();
        }

        @Override
        public void onShutdown() {
        }

        @Override
        public void onEvent(ValueEvent pong, long sequence, boolean endOfBatch) {
            long now = System.nanoTime();
            histogram.record(now - pong.value);
            if (++received < trips) {
                send();
            } else {
                endNs = now;
                done.countDown();
            }
        }
    }

    static final class Ponger implements EventHandler<ValueEvent>, LifecycleAware {
        private final String test;
        private final RingBuffer<ValueEvent> pong;
        private final CyclicBarrier gate;
        long answered;

        Ponger(String test, RingBuffer<ValueEvent> pong, CyclicBarrier gate) {
            this.test = test;
            this.pong = pong;
            this.gate = gate;
        }

        @Override
        public void onStart() {
            awaitGate(test, gate);
        }

        @Override
        public void onShutdown() {
        }

        @Override
        public void onEvent(ValueEvent ping, long sequence, boolean endOfBatch) {
            long s = pong.next();
            pong.get(s).value = ping.value;
            pong.publish(s);
            answered++;
        }
    }

    static final class PingPong extends Test {
        Histogram histogram; /* of the last run */

        PingPong() {
            super("pingpong", "ping-pong round trip, 1 event in flight", 1024, 2, 10_000_000L);
        }

        @Override
        long run(long n, String wait) throws Exception {
            RingBuffer<ValueEvent> ping = RingBuffer.createSingleProducer(ValueEvent::new, ring,
                                                                          newWait(wait));
            RingBuffer<ValueEvent> pong = RingBuffer.createSingleProducer(ValueEvent::new, ring,
                                                                          newWait(wait));
            CyclicBarrier gate = new CyclicBarrier(2);
            CountDownLatch done = new CountDownLatch(1);
            histogram = new Histogram();
            Pinger pinger = new Pinger(name, ping, n, histogram, gate, done);
            Ponger ponger = new Ponger(name, pong, gate);
            /* A (pinger) handles pongs and sends pings; B (ponger) the reverse. */
            BatchEventProcessor<ValueEvent> a = processor(pong, pong.newBarrier(), pinger);
            BatchEventProcessor<ValueEvent> b = processor(ping, ping.newBarrier(), ponger);
            pong.addGatingSequences(a.getSequence());
            ping.addGatingSequences(b.getSequence());
            EventProcessor[] ps = { a, b };
            Thread[] ts = startAll(name, ps);
            done.await();
            haltAll(ps, ts);
            if (pinger.received != n || ponger.answered != n || histogram.count() != n)
                fail(name, "pinger received " + pinger.received + " pongs, ponger answered "
                               + ponger.answered + " pings, histogram holds " + histogram.count()
                               + ", expected " + n + ": WRONG");
            return pinger.endNs - pinger.startNs;
        }
    }

    /* ---- histogram ----------------------------------------------------------- */

    /**
     * A log-linear histogram of non-negative longs (nanoseconds): values below
     * 256 have a bucket each; above, every power of two [2^k, 2^(k+1)) is cut
     * into 128 buckets of equal width, so a bucket is at most 1/128 of its
     * values wide and its midpoint, the value reported, is within 0.4% of
     * every value in it. Values from 2^(MAX_EXP+1) up share the last bucket;
     * the exact maximum and sum are kept apart.
     */
    static final class Histogram {
        static final int SUB_BITS = 7;
        static final int SUB = 1 << SUB_BITS;
        static final int MAX_EXP = 45; /* 2^46 ns: 19 hours */
        private final long[] counts = new long[SUB + (MAX_EXP - SUB_BITS + 1) * SUB];
        private long total;
        private long sum;
        private long max;

        static int index(long v) {
            if (v < SUB)
                return (int) v;
            int exp = 63 - Long.numberOfLeadingZeros(v);
            if (exp > MAX_EXP)
                return SUB + (MAX_EXP - SUB_BITS + 1) * SUB - 1;
            int shift = exp - SUB_BITS;
            return SUB + shift * SUB + (int) ((v >>> shift) - SUB);
        }

        /** The value a bucket stands for: its midpoint. */
        static long value(int index) {
            if (index < SUB)
                return index;
            int shift = (index - SUB) / SUB;
            long lower = (long) (SUB + (index - SUB) % SUB) << shift;
            return lower + ((1L << shift) - 1) / 2;
        }

        void record(long v) {
            if (v < 0)
                v = 0; /* nanoTime is monotonic; never expected */
            counts[index(v)]++;
            total++;
            sum += v;
            if (v > max)
                max = v;
        }

        void add(Histogram o) {
            for (int i = 0; i < counts.length; i++)
                counts[i] += o.counts[i];
            total += o.total;
            sum += o.sum;
            max = Math.max(max, o.max);
        }

        long count() {
            return total;
        }

        long max() {
            return max;
        }

        double mean() {
            return total == 0 ? 0 : (double) sum / total;
        }

        /** The smallest recorded value with at least p% of the values at or below it. */
        long percentile(double p) {
            if (total == 0)
                return 0;
            long rank = (long) Math.ceil(p / 100.0 * total);
            if (rank < 1)
                rank = 1;
            long seen = 0;
            for (int i = 0; i < counts.length; i++) {
                seen += counts[i];
                if (seen >= rank)
                    return Math.min(value(i), max);
            }
            return max;
        }

        String summary() {
            return String.format(Locale.ROOT,
                                 "mean %.0f  p50 %d  p90 %d  p99 %d  p99.9 %d  p99.99 %d  max %d ns",
                                 mean(), percentile(50), percentile(90), percentile(99),
                                 percentile(99.9), percentile(99.99), max);
        }
    }

    /* ---- harness ------------------------------------------------------------- */

    static final Test[] TESTS = {
        new Unicast(false), new Unicast(true), new Pipeline(), new Diamond(), new Multicast(),
        new ThreeToOne(false), new ThreeToOne(true), new Workers(), new PingPong(),
    };

    static void usage(PrintStream out) {
        StringBuilder names = new StringBuilder();
        for (Test t : TESTS)
            names.append(names.length() == 0 ? "" : ", ").append(t.name);
        out.println("usage: java -cp disruptor.jar:DIR " + PROGRAM + " --test NAME [options]\n"
                    + "  --test NAME    " + names + "\n"
                    + "  --events N     events per run (round trips for pingpong; k, M, G"
                    + " suffixes);\n"
                    + "                 default the LMAX count: 100M, 20M for 3p1c*, 10M for"
                    + " pingpong\n"
                    + "  --runs R       timed runs after one discarded warm-up run (default 5)\n"
                    + "  --wait KIND    consumers' wait strategy: busy-spin, yield, block\n"
                    + "                 (default busy-spin; yield when the test has more threads"
                    + " than CPUs)\n"
                    + "  --json FILE    append the summary to FILE as JSON Lines");
    }

    static void usageError(String why) {
        System.err.println(PROGRAM + ": " + why);
        usage(System.err);
        System.exit(2);
    }

    static long parseCount(String opt, String s, long max) {
        long mult = 1;
        String digits = s;
        if (s.endsWith("k") || s.endsWith("K"))
            mult = 1_000;
        else if (s.endsWith("M"))
            mult = 1_000_000;
        else if (s.endsWith("G"))
            mult = 1_000_000_000;
        if (mult != 1)
            digits = s.substring(0, s.length() - 1);
        long v;
        try {
            v = Long.parseLong(digits);
        } catch (NumberFormatException ex) {
            v = -1;
        }
        if (v < 1 || v > max / mult)
            usageError(opt + " " + s + ": not a count from 1 to " + max);
        return v * mult;
    }

    static String jarVersion() {
        try (InputStream in = RingBuffer.class.getResourceAsStream(
                 "/META-INF/maven/com.lmax/disruptor/pom.properties")) {
            if (in == null)
                return "(version unknown)";
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version", "(version unknown)");
        } catch (IOException ex) {
            return "(version unknown)";
        }
    }

    static String jarLocation() {
        try {
            return RingBuffer.class.getProtectionDomain().getCodeSource().getLocation().getPath();
        } catch (RuntimeException ex) {
            return "(location unknown)";
        }
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    static double min(double[] v) {
        return Arrays.stream(v).min().orElse(0);
    }

    static double max(double[] v) {
        return Arrays.stream(v).max().orElse(0);
    }

    static String millions(double rate) {
        return String.format(Locale.ROOT, "%.2fM", rate / 1e6);
    }

    public static void main(String[] args) throws Exception {
        String testName = null, wait = null, json = null;
        long events = -1;
        int runs = 5;

        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--help") || a.equals("-h")) {
                usage(System.out);
                return;
            }
            if (!a.equals("--test") && !a.equals("--events") && !a.equals("--runs")
                && !a.equals("--wait") && !a.equals("--json"))
                usageError("unexpected argument \"" + a + "\"");
            if (i + 1 == args.length)
                usageError(a + " needs a value");
            String v = args[++i];
            switch (a) {
            case "--test":
                testName = v;
                break;
            case "--events":
                events = parseCount(a, v, Long.MAX_VALUE);
                break;
            case "--runs":
                runs = (int) parseCount(a, v, MAX_RUNS);
                break;
            case "--wait":
                if (!Arrays.asList(WAITS).contains(v))
                    usageError("--wait " + v + ": not one of " + String.join(", ", WAITS));
                wait = v;
                break;
            default:
                json = v;
                break;
            }
        }
        if (testName == null)
            usageError("--test NAME is required");
        Test test = null;
        for (Test t : TESTS)
            if (t.name.equals(testName))
                test = t;
        if (test == null)
            usageError("--test " + testName + ": unknown test");
        if (events < 0)
            events = test.defaultEvents;

        int cpus = Runtime.getRuntime().availableProcessors();
        boolean oversubscribed = test.threads > cpus;
        boolean waitGiven = wait != null;
        if (!waitGiven)
            wait = oversubscribed ? "yield" : "busy-spin";

        System.out.printf(Locale.ROOT, "%s: %s, ring of %d slots, %d %s per run, runs: %d after 1"
                                           + " warm-up run%n",
                          test.name, test.title, test.ring, events,
                          test instanceof PingPong ? "round trips" : "events", runs);
        System.out.printf("LMAX Disruptor %s (%s); consumers wait %s%n", jarVersion(),
                          jarLocation(), wait);
        if (oversubscribed)
            System.out.printf("note: oversubscribed: %d threads on %d CPUs; %s%n", test.threads,
                              cpus, waitGiven ? "--wait " + wait + " as asked"
                                              : "waiting with yield (--wait overrides)");
        System.out.printf("JVM: %s %s (%s); flags: %s%n", System.getProperty("java.vm.name"),
                          System.getProperty("java.vm.version"), System.getProperty("java.vendor"),
                          String.join(" ", ManagementFactory.getRuntimeMXBean().getInputArguments())
                              .replaceAll("^$", "(none)"));
        System.out.println("threads: not pinned (Java has no affinity API); CPUs: " + cpus);
        System.out.flush();

        test.prepare(events);
        PingPong pp = test instanceof PingPong ? (PingPong) test : null;
        double[] values = new double[runs]; /* events/s, or the run's p50 in ns */
        Histogram merged = new Histogram();
        for (int r = 0; r <= runs; r++) {
            System.gc(); /* as LMAX's harness: no garbage of the last run collected in this one */
            long ns = test.run(events, wait);
            String label = String.format(Locale.ROOT, "%-9s",
                                         r == 0 ? "warm-up" : "run " + r + "/" + runs);
            if (pp != null) {
                System.out.printf(Locale.ROOT, "%s  %-14s %s  (%.2fM round trips/s)%s%n", label,
                                  test.name, pp.histogram.summary(), events * 1e3 / ns,
                                  r == 0 ? "  discarded" : "");
                if (r > 0) {
                    values[r - 1] = pp.histogram.percentile(50);
                    merged.add(pp.histogram);
                }
            } else {
                double rate = events * 1e9 / ns;
                System.out.printf(Locale.ROOT, "%s  %-14s %10s events/s%s%n", label, test.name,
                                  millions(rate), r == 0 ? "  discarded" : "");
                if (r > 0)
                    values[r - 1] = rate;
            }
            System.out.flush();
        }

        double med = median(values), lo = min(values), hi = max(values);
        String wlabel = wait;
        System.out.println();
        if (pp != null) {
            System.out.printf("%-14s %-15s %-9s %13s  %s%n", "test", "implementation", "wait",
                              "median p50", "min - max p50");
            System.out.printf(Locale.ROOT, "%-14s %-15s %-9s %10.0f ns  %.0f - %.0f ns%n",
                              test.name, IMPL, wlabel, med, lo, hi);
            System.out.printf("all %d timed runs merged (%d round trips): %s%n", runs,
                              merged.count(), merged.summary());
        } else {
            System.out.printf("%-14s %-15s %-9s %12s  %s%n", "test", "implementation", "wait",
                              "median ev/s", "min - max ev/s");
            System.out.printf("%-14s %-15s %-9s %12s  %s - %s%n", test.name, IMPL, wlabel,
                              millions(med), millions(lo), millions(hi));
        }

        if (json != null) {
            StringBuilder line = new StringBuilder();
            line.append(String.format(Locale.ROOT,
                                      "{\"bench\": \"%s\", \"impl\": \"%s\", \"wait\": \"%s\", "
                                          + "\"runs\": %d, \"unit\": \"%s\", \"median\": %.1f, "
                                          + "\"min\": %.1f, \"max\": %.1f",
                                      test.name, IMPL, wlabel, runs, pp != null ? "ns" : "events/s",
                                      med, lo, hi));
            /* pingpong: median/min/max are of the runs' p50; the percentiles
             * and the maximum below come from the histogram of all timed runs
             * merged (not from one run). */
            if (pp != null)
                line.append(String.format(Locale.ROOT,
                                          ", \"p50\": %d, \"p99\": %d, \"p9999\": %d, \"max_ns\": %d",
                                          merged.percentile(50), merged.percentile(99),
                                          merged.percentile(99.99), merged.max()));
            line.append("}\n");
            try (Writer w = new FileWriter(json, true)) {
                w.write(line.toString());
            } catch (IOException ex) {
                System.err.println(PROGRAM + ": " + json + ": " + ex.getMessage());
                System.exit(1);
            }
        }
        System.out.flush();
        /* halt: the processors' threads are daemons and already joined */
        System.exit(0);
    }
}
