//! An API client against a flaky service: a timeout per call, exponential retries with
//! jitter, a circuit breaker shared by all calls, and a cached fallback.
//!
//! Run: `cargo run --release --example api_client`
//!
//! The "service" is simulated in-process (every third call fails, some calls hang), so
//! the example needs no network. It prints each request's outcome and a summary.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sweet_async::prelude::*;
use sweet_async::task::{CircuitBreaker, Jitter, RetryPolicy, RetryStrategy};

#[derive(Debug, Clone)]
struct ApiResponse {
    user_id: u64,
    body: String,
    from_cache: bool,
}

#[derive(Debug)]
enum ApiError {
    Unavailable,
    BadRequest(u64),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Unavailable => f.write_str("503 service unavailable"),
            ApiError::BadRequest(id) => write!(f, "400 bad request for user {id}"),
        }
    }
}

impl std::error::Error for ApiError {}

/// The simulated remote service.
struct FlakyService {
    calls: AtomicU64,
}

impl FlakyService {
    async fn get_user(&self, user_id: u64) -> Result<ApiResponse, ApiError> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(5)).await;
        if user_id == 13 {
            return Err(ApiError::BadRequest(user_id));
        }
        if n % 3 == 2 {
            return Err(ApiError::Unavailable);
        }
        if n % 7 == 6 {
            // A call that hangs: the per-attempt timeout catches it.
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Ok(ApiResponse {
            user_id,
            body: format!("{{\"id\":{user_id}}}"),
            from_cache: false,
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), ConfigError> {
    let service = Arc::new(FlakyService {
        calls: AtomicU64::new(0),
    });
    let breaker = CircuitBreaker::builder("user-service")
        .failure_threshold(5)
        .success_threshold(2)
        .open_timeout(Duration::from_secs(2))
        .build()?;

    // One configured builder, reused (cheaply cloned) for every request.
    let request = AsyncTask::to::<ApiResponse>()
        .name("external-api-call")
        .tag("user-service")
        .timeout(200.millis())
        .retry_policy(
            RetryPolicy::new(RetryStrategy::Exponential {
                base: Duration::from_millis(20),
                factor: 2.0,
                max: Duration::from_millis(500),
            })
            .with_jitter(Jitter::Equal)
            .with_max_retries(3),
        )
        // A 400 will not get better by asking again.
        .retry_if(|err: &TaskError<ApiError>| {
            !matches!(err.user_error(), Some(ApiError::BadRequest(_)))
        })
        .circuit_breaker(breaker.clone())
        .build()?;

    let mut handles = Vec::new();
    for user_id in 1..=20u64 {
        let service = Arc::clone(&service);
        let task = request
            .clone()
            .name(format!("get-user-{user_id}"))
            .with_field("user_id", user_id)
            .recover_with(move |err| async move {
                match err {
                    TaskError::CircuitOpen { .. } | TaskError::RetriesExhausted { .. } => {
                        Ok(ApiResponse {
                            user_id,
                            body: String::from("{\"cached\":true}"),
                            from_cache: true,
                        })
                    }
                    other => Err(other),
                }
            })
            .run(move || {
                let service = Arc::clone(&service);
                async move { service.get_user(user_id).await }
            });
        match task.spawn() {
            Ok(handle) => handles.push(handle),
            Err(err) => eprintln!("could not start request for {user_id}: {err}"),
        }
    }

    let (mut fresh, mut cached, mut failed) = (0, 0, 0);
    for handle in handles {
        let result = handle.await;
        match result.as_result() {
            Ok(resp) if resp.from_cache => {
                cached += 1;
                println!(
                    "user {:>2}: cached   after {} attempts",
                    resp.user_id,
                    result.attempts()
                );
            }
            Ok(resp) => {
                fresh += 1;
                println!(
                    "user {:>2}: {} after {} attempts in {:?}",
                    resp.user_id,
                    resp.body,
                    result.attempts(),
                    result.execution_time()
                );
            }
            Err(err) => {
                failed += 1;
                println!(
                    "{}: failed after {} attempt(s): {err}",
                    result.label(),
                    result.attempts()
                );
            }
        }
    }
    println!(
        "\n{fresh} fresh, {cached} from cache, {failed} failed; service saw {} calls; breaker is {:?}",
        service.calls.load(Ordering::Relaxed),
        breaker.state()
    );
    Ok(())
}
