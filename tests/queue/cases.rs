//! The contract cases; each takes a fresh fixture.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::json;
use wa_gateway::queue::*;

use crate::fixture::{Fixture, eventually, start, worker_config};

const Q: &str = "messages";

fn job(lane: &str, n: usize) -> NewJob {
    NewJob::new(Q, lane, json!({ "n": n }))
}

async fn enqueue_all(backend: &Arc<dyn QueueBackend>, jobs: Vec<NewJob>) {
    for chunk in jobs.chunks(1000) {
        let out = backend.enqueue(chunk).await.unwrap();
        assert!(out.iter().all(|e| matches!(e, Enqueued::Created(_))));
    }
}

pub async fn enqueue_claim_finish_and_inspect(f: &Fixture) {
    let b = &f.backend;
    let created = b.enqueue(&[job("s1", 1).id("msg_1")]).await.unwrap();
    assert_eq!(created, [Enqueued::Created("msg_1".into())]);
    let again = b.enqueue(&[job("s1", 99).id("msg_1")]).await.unwrap();
    assert_eq!(again, [Enqueued::Existing("msg_1".into())], "same id: nothing added");
    // (On a queue of its own: the counts below are this queue's.)
    let twin = |n: usize| NewJob::new("twins", "s1", json!({ "n": n })).id("msg_5");
    let twice = b.enqueue(&[twin(5), twin(6)]).await.unwrap();
    assert_eq!(
        twice,
        [Enqueued::Created("msg_5".into()), Enqueued::Existing("msg_5".into())],
        "the same id twice in one call: the first is created"
    );
    assert_eq!(b.get("twins", "msg_5").await.unwrap().unwrap().payload["n"], 5);

    let generated = b.enqueue(&[job("s1", 2)]).await.unwrap();
    let generated_id = generated[0].id().to_owned();
    assert!(generated_id.starts_with("job_"));

    let record = b.get(Q, "msg_1").await.unwrap().unwrap();
    assert_eq!(
        (record.state, record.attempts, record.max_attempts),
        (JobState::Queued, 0, DEFAULT_MAX_ATTEMPTS)
    );
    assert_eq!(record.payload, json!({"n": 1}));
    assert!(b.get(Q, "nope").await.unwrap().is_none());
    assert!(b.get("webhooks", "msg_1").await.unwrap().is_none(), "queues are separate");

    let claimed = b.claim(Q, 10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(claimed[0].id, "msg_1", "FIFO within a lane");
    assert_eq!(claimed[0].payload, json!({"n": 1}), "the first payload is kept");
    assert_eq!(claimed[0].attempt, 1);
    assert_eq!(claimed[0].lane, "s1");
    assert_eq!(b.get(Q, "msg_1").await.unwrap().unwrap().state, JobState::Running);
    assert!(
        b.claim(Q, 10, Duration::from_secs(30)).await.unwrap().is_empty(),
        "claimed jobs are not handed out twice"
    );

    b.finish(&claimed[0], &Resolution::Done).await.unwrap();
    b.finish(&claimed[1], &Resolution::Done).await.unwrap();
    let done = b.get(Q, "msg_1").await.unwrap().unwrap();
    assert_eq!((done.state, done.attempts), (JobState::Done, 1));
    assert_eq!(b.enqueue(&[job("s1", 3).id("msg_1")]).await.unwrap()[0], Enqueued::Existing("msg_1".into()));
    assert!(
        b.claim(Q, 10, Duration::from_secs(30)).await.unwrap().is_empty(),
        "a finished id never runs again"
    );
}

pub async fn dedupe_keys_refuse_a_second_active_job(f: &Fixture) {
    let b = &f.backend;
    let first = b.enqueue(&[job("s", 1).dedupe("welcome:4917")]).await.unwrap()[0].clone();
    let second = b.enqueue(&[job("s", 2).dedupe("welcome:4917")]).await.unwrap()[0].clone();
    assert_eq!(second, Enqueued::Existing(first.id().to_owned()));
    let other = b.enqueue(&[job("s", 3).dedupe("welcome:4918")]).await.unwrap()[0].clone();
    assert!(matches!(other, Enqueued::Created(_)));

    let claimed = b.claim(Q, 10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(claimed.len(), 2);
    let still = b.enqueue(&[job("s", 4).dedupe("welcome:4917")]).await.unwrap()[0].clone();
    assert_eq!(still, Enqueued::Existing(first.id().to_owned()), "running jobs hold their key");
    for c in &claimed {
        b.finish(c, &Resolution::Done).await.unwrap();
    }
    let later = b.enqueue(&[job("s", 5).dedupe("welcome:4917")]).await.unwrap()[0].clone();
    assert!(matches!(later, Enqueued::Created(ref id) if id != first.id()), "{later:?}");
}

pub async fn retries_follow_the_schedule_then_dead_letter_and_replay(f: &Fixture) {
    let b = f.backend.clone();
    b.enqueue(&[job("s", 1).id("flaky").max_attempts(3)]).await.unwrap();
    let starts = Arc::new(Mutex::new(Vec::new()));
    let succeed = Arc::new(AtomicBool::new(false));
    let mut config = worker_config(Q, 4);
    config.retry =
        RetryPolicy { schedule: vec![Duration::from_millis(300), Duration::from_millis(600)], jitter: 0.0 };
    let (s, ok) = (starts.clone(), succeed.clone());
    let worker = start(b.clone(), config, move |job| {
        s.lock().unwrap().push((std::time::Instant::now(), job.attempt));
        let ok = ok.load(Ordering::SeqCst);
        async move { if ok { Outcome::Done } else { Outcome::retry(format!("boom {}", job.attempt)) } }
            .boxed()
    });
    let probe = b.clone();
    let mut dead = None;
    for _ in 0..200 {
        if let Some(r) = probe.get(Q, "flaky").await.unwrap().filter(|r| r.state == JobState::Dead) {
            dead = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let dead = dead.expect("dead-lettered within 5 s");
    assert_eq!(dead.attempts, 3, "stops at max_attempts");
    assert!(dead.last_error.as_deref().unwrap().contains("boom 3"), "{:?}", dead.last_error);
    let starts_seen = starts.lock().unwrap().clone();
    assert_eq!(starts_seen.iter().map(|s| s.1).collect::<Vec<_>>(), [1, 2, 3]);
    let gap1 = starts_seen[1].0 - starts_seen[0].0;
    let gap2 = starts_seen[2].0 - starts_seen[1].0;
    assert!(gap1 >= Duration::from_millis(280) && gap1 < Duration::from_millis(1200), "{gap1:?}");
    assert!(gap2 >= Duration::from_millis(580) && gap2 < Duration::from_millis(1500), "{gap2:?}");

    let listed = b.dead(Q, 10).await.unwrap();
    assert_eq!(listed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["flaky"]);
    assert_eq!(b.stats(Q).await.unwrap().dead, 1);

    succeed.store(true, Ordering::SeqCst);
    assert!(b.replay(Q, "flaky").await.unwrap());
    assert!(!b.replay(Q, "flaky").await.unwrap(), "only dead jobs replay");
    let mut done = false;
    for _ in 0..200 {
        if probe.get(Q, "flaky").await.unwrap().is_some_and(|r| r.state == JobState::Done) {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(done, "replayed job ran");
    assert_eq!(b.get(Q, "flaky").await.unwrap().unwrap().attempts, 1, "a replay gets a fresh budget");
    assert!(b.dead(Q, 10).await.unwrap().is_empty());
    worker.stop().await;
}

pub async fn deferred_jobs_run_later_without_spending_attempts(f: &Fixture) {
    let b = f.backend.clone();
    b.enqueue(&[job("paced", 1).id("d1").max_attempts(2).ordered(), job("paced", 2).id("d2").ordered()])
        .await
        .unwrap();
    let lease = Duration::from_secs(30);
    // Deferred three times: more than max_attempts, yet never dead.
    for round in 0..3 {
        let claimed = b.claim(Q, 10, lease).await.unwrap();
        assert_eq!(
            claimed.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
            ["d1"],
            "round {round}: ordered head only"
        );
        assert_eq!(claimed[0].attempt, 1, "a deferral does not count as an attempt");
        let at = now_ms() + 200;
        b.finish(&claimed[0], &Resolution::DeferTo { at }).await.unwrap();
        let record = b.get(Q, "d1").await.unwrap().unwrap();
        assert_eq!((record.state, record.attempts, record.due_at), (JobState::Queued, 0, at));
        assert!(
            b.claim(Q, 10, lease).await.unwrap().is_empty(),
            "not before its time, and d2 waits behind it"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let claimed = b.claim(Q, 10, lease).await.unwrap();
    b.finish(&claimed[0], &Resolution::Done).await.unwrap();
    let next = b.claim(Q, 10, lease).await.unwrap();
    assert_eq!(next.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), ["d2"], "the lane moves on in order");
    assert_eq!(b.get(Q, "d1").await.unwrap().unwrap().state, JobState::Done);
}

pub async fn delayed_job_fires_on_time_when_another_process_enqueued_it(f: &Fixture) {
    let fired = Arc::new(Mutex::new(Vec::new()));
    let fr = fired.clone();
    let worker = start(f.backend.clone(), worker_config(Q, 4), move |job| {
        fr.lock().unwrap().push((job.id.clone(), now_ms()));
        async { Outcome::Done }.boxed()
    });
    let other = f.other_process().await;
    let mut due = Vec::new();
    for (i, delay) in [1200u64, 1700, 2200].into_iter().enumerate() {
        let at = now_ms() + delay as i64;
        other.enqueue(&[job(&format!("lane{i}"), i).id(format!("late{i}")).run_at(at)]).await.unwrap();
        due.push((format!("late{i}"), at));
    }
    assert!(eventually(Duration::from_secs(6), || fired.lock().unwrap().len() == 3).await, "not all fired");
    worker.stop().await;
    let fired = fired.lock().unwrap().clone();
    for (id, at) in due {
        let (_, ran) = fired.iter().find(|(f, _)| *f == id).unwrap();
        let late = ran - at;
        assert!(late >= 0, "{id} ran {}ms early", -late);
        assert!(late < 1000, "{id} ran {late}ms late");
    }
}

pub async fn cancelled_jobs_never_run(f: &Fixture) {
    let b = &f.backend;
    let ran = Arc::new(Mutex::new(HashSet::new()));
    b.enqueue(&[job("s", 1).id("scheduled").delay(Duration::from_millis(600))]).await.unwrap();
    b.enqueue(&[job("busy", 2).id("queued").ordered(), job("busy", 3).id("behind").ordered()]).await.unwrap();
    // Claim "queued" so "behind" waits in its ordered lane, then cancel it there.
    let head = b.claim(Q, 1, Duration::from_secs(30)).await.unwrap();
    assert_eq!(head[0].id, "queued");
    assert_eq!(b.cancel(Q, "queued").await.unwrap(), CancelResult::Running);
    assert_eq!(b.cancel(Q, "behind").await.unwrap(), CancelResult::Cancelled);
    assert_eq!(b.cancel(Q, "scheduled").await.unwrap(), CancelResult::Cancelled);
    assert_eq!(b.cancel(Q, "scheduled").await.unwrap(), CancelResult::Finished);
    assert_eq!(b.cancel(Q, "ghost").await.unwrap(), CancelResult::NotFound);
    assert_eq!(b.get(Q, "scheduled").await.unwrap().unwrap().state, JobState::Cancelled);
    b.finish(&head[0], &Resolution::Done).await.unwrap();

    b.enqueue(&[job("s", 4).id("control").delay(Duration::from_millis(700))]).await.unwrap();
    let r = ran.clone();
    let worker = start(b.clone(), worker_config(Q, 4), move |job| {
        r.lock().unwrap().insert(job.id.clone());
        async { Outcome::Done }.boxed()
    });
    assert!(eventually(Duration::from_secs(5), || ran.lock().unwrap().contains("control")).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    worker.stop().await;
    let ran = ran.lock().unwrap().clone();
    assert_eq!(ran, HashSet::from(["control".to_owned()]), "cancelled jobs ran");
}

pub async fn ordered_lane_runs_one_at_a_time_in_order(f: &Fixture) {
    let b = f.backend.clone();
    let jobs: Vec<NewJob> = (0..30).map(|n| job("chat-42", n).id(format!("m{n:02}")).ordered()).collect();
    enqueue_all(&b, jobs).await;
    let order = Arc::new(Mutex::new(Vec::new()));
    let running = Arc::new(AtomicUsize::new(0));
    let overlap = Arc::new(AtomicBool::new(false));
    let (o, r, ov) = (order.clone(), running.clone(), overlap.clone());
    let worker = start(b.clone(), worker_config(Q, 8), move |job| {
        let (o, r, ov) = (o.clone(), r.clone(), ov.clone());
        async move {
            if r.fetch_add(1, Ordering::SeqCst) != 0 {
                ov.store(true, Ordering::SeqCst);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            r.fetch_sub(1, Ordering::SeqCst);
            // m05 fails once: its retry must keep its place in the lane.
            if job.id == "m05" && job.attempt == 1 {
                return Outcome::Retry { error: "transient".into(), after: Some(Duration::from_millis(200)) };
            }
            o.lock().unwrap().push(job.id.clone());
            Outcome::Done
        }
        .boxed()
    });
    assert!(
        eventually(Duration::from_secs(20), || order.lock().unwrap().len() == 30).await,
        "lane did not drain"
    );
    worker.stop().await;
    let expected: Vec<String> = (0..30).map(|n| format!("m{n:02}")).collect();
    assert_eq!(*order.lock().unwrap(), expected);
    assert!(!overlap.load(Ordering::SeqCst), "two jobs of an ordered lane ran at once");
}

/// A queue's jobs are all ordered or all not: the database backends read
/// unordered lanes through an index of unordered jobs only, so a mix would
/// lose jobs there. The queue front refuses it before anything is stored.
pub async fn a_queue_refuses_to_mix_ordered_and_unordered_jobs(f: &Fixture) {
    let queue = Queue::new(f.backend.clone());
    queue.enqueue(job("chat-1", 0).id("o0").ordered()).await.unwrap();
    let err = queue.enqueue(job("chat-1", 1).id("u1")).await.unwrap_err();
    assert!(err.to_string().contains("unordered"), "{err}");
    let mixed = vec![job("chat-2", 2).id("o2").ordered(), job("chat-2", 3).id("u3")];
    assert!(
        queue.enqueue_many(mixed).await.is_err(),
        "a batch with one job of the other kind is refused whole"
    );
    for id in ["u1", "o2", "u3"] {
        assert!(queue.get(Q, id).await.unwrap().is_none(), "{id} was stored");
    }
    // Another queue has its own kind.
    queue.enqueue(NewJob::new("other", "lane", json!({})).id("x")).await.unwrap();
    assert!(queue.get(Q, "o0").await.unwrap().is_some());
}

pub async fn fairness_across_lanes(f: &Fixture) {
    let b = f.backend.clone();
    let backlog: Vec<NewJob> = (0..50_000).map(|n| job("busy-session", n)).collect();
    enqueue_all(&b, backlog).await;
    b.enqueue(&[job("quiet-session", 0).id("the-one")]).await.unwrap();

    let position = Arc::new(Mutex::new(None));
    let seen = Arc::new(AtomicUsize::new(0));
    let (p, s) = (position.clone(), seen.clone());
    let worker = start(b.clone(), worker_config(Q, 4), move |job| {
        let n = s.fetch_add(1, Ordering::SeqCst);
        if job.id == "the-one" {
            *p.lock().unwrap() = Some(n);
        }
        async { Outcome::Done }.boxed()
    });
    assert!(eventually(Duration::from_secs(30), || position.lock().unwrap().is_some()).await, "never ran");
    worker.stop().await;
    let pos = position.lock().unwrap().unwrap();
    // Lanes are served round-robin: the quiet lane gets one of the first claims.
    assert!(pos < 8, "the quiet session's job ran as number {pos}");
}

pub async fn backlog_of_100k_drains(f: &Fixture) {
    let b = f.backend.clone();
    let jobs: Vec<NewJob> = (0..100_000).map(|n| job(&format!("session-{}", n % 10), n)).collect();
    let started = std::time::Instant::now();
    enqueue_all(&b, jobs).await;
    let enqueued_in = started.elapsed();
    let seen = Arc::new(Mutex::new(HashSet::with_capacity(100_000)));
    let s = seen.clone();
    let mut config = worker_config(Q, 32);
    config.batch = 64;
    let drain_started = std::time::Instant::now();
    let worker = start(b.clone(), config, move |job| {
        s.lock().unwrap().insert(job.payload["n"].as_u64().unwrap());
        async { Outcome::Done }.boxed()
    });
    let drained = eventually(Duration::from_secs(900), || seen.lock().unwrap().len() == 100_000).await;
    let drained_in = drain_started.elapsed();
    assert!(drained, "only {} of 100000 ran", seen.lock().unwrap().len());
    assert!(!worker.handle.is_finished(), "the worker stopped");
    worker.stop().await;
    let stats = b.stats(Q).await.unwrap();
    assert_eq!((stats.ready, stats.delayed, stats.running), (0, 0, 0), "{stats:?}");
    eprintln!(
        "{}: enqueued 100000 in {enqueued_in:?}, drained in {drained_in:?} ({:.0} jobs/s)",
        f.kind.name(),
        100_000.0 / drained_in.as_secs_f64()
    );
}

pub async fn expired_lease_redelivers_and_stale_attempt_is_ignored(f: &Fixture) {
    let b = &f.backend;
    b.enqueue(&[job("s", 1).id("fragile").ordered(), job("s", 2).id("next").ordered()]).await.unwrap();
    let first = b.claim(Q, 1, Duration::from_millis(300)).await.unwrap();
    assert_eq!((first[0].id.as_str(), first[0].attempt), ("fragile", 1));
    // The worker "dies": no renewal, no finish.
    assert!(b.claim(Q, 5, Duration::from_secs(30)).await.unwrap().is_empty(), "ordered lane is busy");
    tokio::time::sleep(Duration::from_millis(450)).await;
    let again = b.claim(Q, 1, Duration::from_secs(30)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].id.as_str(), again[0].attempt),
        ("fragile", 2),
        "same id, next attempt, still first in lane"
    );
    assert!(!b.extend(&first[0], Duration::from_secs(30)).await.unwrap(), "the stale attempt lost its lease");
    b.finish(&first[0], &Resolution::Dead { error: "stale".into() }).await.unwrap();
    assert_eq!(b.get(Q, "fragile").await.unwrap().unwrap().state, JobState::Running, "stale finish ignored");
    assert!(b.extend(&again[0], Duration::from_secs(30)).await.unwrap());
    b.finish(&again[0], &Resolution::Done).await.unwrap();
    assert_eq!(b.claim(Q, 5, Duration::from_secs(30)).await.unwrap()[0].id, "next");

    // A job that loses its lease on its last attempt is dead-lettered.
    b.enqueue(&[job("t", 1).id("doomed").max_attempts(1)]).await.unwrap();
    assert_eq!(b.claim(Q, 1, Duration::from_millis(100)).await.unwrap()[0].id, "doomed");
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(b.claim(Q, 5, Duration::from_secs(30)).await.unwrap().is_empty());
    let dead = b.get(Q, "doomed").await.unwrap().unwrap();
    assert_eq!(dead.state, JobState::Dead);
    assert!(dead.last_error.unwrap().contains("lease expired"));
}

pub async fn shutdown_finishes_quick_jobs_and_releases_slow_ones(f: &Fixture) {
    let b = f.backend.clone();
    b.enqueue(&[job("a", 1).id("quick"), job("b", 2).id("slow")]).await.unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let st = started.clone();
    let mut config = worker_config(Q, 4);
    config.drain_timeout = Duration::from_millis(500);
    let worker = start(b.clone(), config, move |job| {
        st.fetch_add(1, Ordering::SeqCst);
        let wait = if job.id == "quick" { 150 } else { 60_000 };
        async move {
            tokio::time::sleep(Duration::from_millis(wait)).await;
            Outcome::Done
        }
        .boxed()
    });
    assert!(eventually(Duration::from_secs(5), || started.load(Ordering::SeqCst) == 2).await);
    let stopping = std::time::Instant::now();
    worker.stop().await;
    assert!(stopping.elapsed() < Duration::from_secs(3), "drain took {:?}", stopping.elapsed());
    assert_eq!(b.get(Q, "quick").await.unwrap().unwrap().state, JobState::Done, "in-flight job finished");
    let slow = b.get(Q, "slow").await.unwrap().unwrap();
    assert_eq!((slow.state, slow.attempts), (JobState::Queued, 0), "released without burning an attempt");
    let again = b.claim(Q, 5, Duration::from_secs(30)).await.unwrap();
    assert_eq!(again.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), ["slow"]);
}

pub async fn stats_count_each_state(f: &Fixture) {
    let b = &f.backend;
    assert_eq!(b.stats(Q).await.unwrap(), QueueStats::default());
    b.enqueue(&[
        job("a", 1),
        job("a", 2),
        job("b", 3).delay(Duration::from_secs(60)),
        job("c", 4).max_attempts(1),
    ])
    .await
    .unwrap();
    assert_eq!(b.stats(Q).await.unwrap(), QueueStats { ready: 3, delayed: 1, running: 0, dead: 0 });
    let claimed = b.claim(Q, 3, Duration::from_secs(30)).await.unwrap();
    assert_eq!(claimed.len(), 3);
    let c = claimed.iter().find(|j| j.lane == "c").unwrap();
    b.finish(c, &Resolution::Dead { error: "bad".into() }).await.unwrap();
    assert_eq!(b.stats(Q).await.unwrap(), QueueStats { ready: 0, delayed: 1, running: 2, dead: 1 });
    for j in claimed.iter().filter(|j| j.lane != "c") {
        b.finish(j, &Resolution::Done).await.unwrap();
    }
    assert_eq!(b.prune(Q, Duration::from_secs(3600)).await.unwrap(), 0, "too young to prune");
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(b.prune(Q, Duration::from_millis(1)).await.unwrap(), 2, "done jobs pruned");
    assert!(b.get(Q, claimed[0].id.as_str()).await.unwrap().is_none() || claimed[0].lane == "c");
    assert_eq!(b.stats(Q).await.unwrap(), QueueStats { ready: 0, delayed: 1, running: 0, dead: 1 });
}

pub async fn batched_results_settle_only_attempts_that_own_their_jobs(f: &Fixture) {
    let b = &f.backend;
    b.enqueue(&[
        job("a", 1).id("lost").ordered(),
        job("b", 2).id("kept").ordered(),
        job("c", 3).id("failing"),
    ])
    .await
    .unwrap();
    let first = b.claim(Q, 3, Duration::from_millis(300)).await.unwrap();
    let by_id = |id: &str| first.iter().find(|j| j.id == id).cloned().unwrap();
    let lost = by_id("lost");
    // "lost" loses its lease and is claimed again; the others keep theirs.
    for j in [by_id("kept"), by_id("failing")] {
        assert!(b.extend(&j, Duration::from_secs(30)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(450)).await;
    let again = b.claim(Q, 3, Duration::from_secs(30)).await.unwrap();
    assert_eq!(again.iter().map(|j| (j.id.as_str(), j.attempt)).collect::<Vec<_>>(), [("lost", 2)]);

    // One batch: a stale Done, an owned Done and an owned retry.
    let retry_at = wa_gateway::queue::now_ms() + 60_000;
    b.finish_many(&[
        (lost.clone(), Resolution::Done),
        (by_id("kept"), Resolution::Done),
        (by_id("failing"), Resolution::RetryAt { at: retry_at, error: "boom".into() }),
    ])
    .await
    .unwrap();
    assert_eq!(b.get(Q, "lost").await.unwrap().unwrap().state, JobState::Running, "stale Done ignored");
    assert_eq!(b.get(Q, "kept").await.unwrap().unwrap().state, JobState::Done);
    let failing = b.get(Q, "failing").await.unwrap().unwrap();
    assert_eq!((failing.state, failing.last_error.as_deref()), (JobState::Queued, Some("boom")));

    // The owner's Done in the next batch settles it, and its lane moves on.
    b.enqueue(&[job("a", 4).id("after").ordered()]).await.unwrap();
    b.finish_many(&[(again[0].clone(), Resolution::Done)]).await.unwrap();
    assert_eq!(b.get(Q, "lost").await.unwrap().unwrap().state, JobState::Done);
    let next = b.claim(Q, 3, Duration::from_secs(30)).await.unwrap();
    assert_eq!(next.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), ["after"]);
}

/// A companion that writes a row with a fixed key (a second committed
/// write of it would break the table's primary key) and can fail after.
struct Rows {
    fail: bool,
    writes: AtomicUsize,
    undos: AtomicUsize,
}

impl Rows {
    fn new(fail: bool) -> Self {
        Self { fail, writes: AtomicUsize::new(0), undos: AtomicUsize::new(0) }
    }
}

const ROWS_TABLE: &str = "CREATE TABLE IF NOT EXISTS companion_rows (id TEXT PRIMARY KEY)";
const ROWS_INSERT: &str = "INSERT INTO companion_rows (id) VALUES ('row')";
const ROWS_FAIL: &str = "SELECT * FROM no_such_table";

#[async_trait::async_trait]
impl Companion for Rows {
    fn push_sqlite(&self, script: &mut sqlx::QueryBuilder<sqlx::Sqlite>) {
        self.writes.fetch_add(1, Ordering::SeqCst);
        script.push(format!("{ROWS_TABLE};\n{ROWS_INSERT};\n"));
        if self.fail {
            script.push(format!("{ROWS_FAIL};\n"));
        }
    }

    async fn write_postgres(&self, conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query(ROWS_TABLE).execute(&mut *conn).await?;
        sqlx::query(ROWS_INSERT).execute(&mut *conn).await?;
        self.writes.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            sqlx::query(ROWS_FAIL).execute(&mut *conn).await?;
        }
        Ok(())
    }

    async fn write(&self) -> Result<(), String> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        if self.fail { Err("refused".into()) } else { Ok(()) }
    }

    async fn undo(&self) {
        self.undos.fetch_add(1, Ordering::SeqCst);
    }
}

pub async fn companion_rows_commit_with_their_jobs(f: &Fixture) {
    let b = &f.backend;
    let failing = Rows::new(true);
    assert!(b.enqueue_with(&[job("s1", 1).id("with_rows")], &failing).await.is_err());
    assert_eq!(failing.writes.load(Ordering::SeqCst), 1, "the rows were written once");
    assert!(b.get(Q, "with_rows").await.unwrap().is_none(), "rows that failed add no job");
    assert_eq!(failing.undos.load(Ordering::SeqCst), 0, "nothing to take back: no job was tried");

    // On SQL backends this also proves the failed attempt's row was rolled
    // back with it: a committed row would make this insert of the same key fail.
    let rows = Rows::new(false);
    let out = b.enqueue_with(&[job("s1", 2).id("with_rows")], &rows).await.unwrap();
    assert_eq!(out, [Enqueued::Created("with_rows".into())]);
    assert_eq!(rows.writes.load(Ordering::SeqCst), 1);
    let record = b.get(Q, "with_rows").await.unwrap().unwrap();
    assert_eq!((record.state, record.payload), (JobState::Queued, json!({"n": 2})));
    let claimed = b.claim(Q, 10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(claimed.len(), 1, "the job is claimable: its lane was set up in the same commit");
}
