//! The queue contract: every guarantee, on Redis, PostgreSQL and SQLite.
//!
//! Each case in `cases.rs` takes a `Fixture` (a backend on an isolated
//! database or Redis key prefix) and is instantiated per backend by
//! `contract!`, e.g. `redis::fairness_across_lanes`.

#[path = "../support/mod.rs"]
mod support;

mod cases;
mod fixture;
mod redis_restart;
mod sigkill;

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let f = crate::fixture::Fixture::new(crate::fixture::Kind::Sqlite).await.unwrap();
                    crate::cases::$case(&f).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(f) = crate::fixture::Fixture::new(crate::fixture::Kind::Postgres).await else { return };
                    crate::cases::$case(&f).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(f) = crate::fixture::Fixture::new(crate::fixture::Kind::Redis).await else { return };
                    crate::cases::$case(&f).await;
                }
            )*
        }
    };
}

contract!(
    enqueue_claim_finish_and_inspect,
    dedupe_keys_refuse_a_second_active_job,
    retries_follow_the_schedule_then_dead_letter_and_replay,
    deferred_jobs_run_later_without_spending_attempts,
    delayed_job_fires_on_time_when_another_process_enqueued_it,
    cancelled_jobs_never_run,
    ordered_lane_runs_one_at_a_time_in_order,
    a_queue_refuses_to_mix_ordered_and_unordered_jobs,
    fairness_across_lanes,
    backlog_of_100k_drains,
    expired_lease_redelivers_and_stale_attempt_is_ignored,
    shutdown_finishes_quick_jobs_and_releases_slow_ones,
    stats_count_each_state,
    batched_results_settle_only_attempts_that_own_their_jobs,
    companion_rows_commit_with_their_jobs,
);
