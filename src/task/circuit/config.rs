//! [`CircuitBreakerBuilder`]: thresholds and timeout of a circuit breaker.

use std::sync::Arc;
use std::time::Duration;

use super::CircuitBreaker;
use crate::error::ConfigError;

/// Validated settings of a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CircuitConfig {
    pub(crate) failure_threshold: u32,
    pub(crate) success_threshold: u32,
    pub(crate) open_timeout: Duration,
}

/// Configures a [`CircuitBreaker`]; created by [`CircuitBreaker::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct CircuitBreakerBuilder {
    name: Arc<str>,
    config: CircuitConfig,
}

impl CircuitBreakerBuilder {
    pub(crate) fn new(name: Arc<str>) -> Self {
        CircuitBreakerBuilder {
            name,
            config: CircuitConfig {
                failure_threshold: 5,
                success_threshold: 2,
                open_timeout: Duration::from_secs(30),
            },
        }
    }

    /// Consecutive failures that open the breaker (default 5, at least 1).
    pub fn failure_threshold(mut self, n: u32) -> Self {
        self.config.failure_threshold = n;
        self
    }

    /// Trial successes in the half-open state that close the breaker (default 2, at
    /// least 1). Also the number of trial calls let through at once.
    pub fn success_threshold(mut self, n: u32) -> Self {
        self.config.success_threshold = n;
        self
    }

    /// How long the breaker stays open before it lets trial calls through (default 30 s,
    /// longer than zero).
    pub fn open_timeout(mut self, d: Duration) -> Self {
        self.config.open_timeout = d;
        self
    }

    /// Checks the settings and creates the breaker, closed.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] for a zero `"failure threshold"` or `"success threshold"`,
    /// [`ConfigError::ZeroDuration`] for a zero `"open timeout"`.
    pub fn build(self) -> Result<CircuitBreaker, ConfigError> {
        let c = self.config;
        if c.failure_threshold == 0 {
            return Err(ConfigError::Zero {
                setting: "failure threshold",
            });
        }
        if c.success_threshold == 0 {
            return Err(ConfigError::Zero {
                setting: "success threshold",
            });
        }
        ConfigError::check_duration("open timeout", c.open_timeout)?;
        Ok(CircuitBreaker::new(self.name, c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let b = CircuitBreakerBuilder::new("db".into());
        assert_eq!(
            b.config,
            CircuitConfig {
                failure_threshold: 5,
                success_threshold: 2,
                open_timeout: Duration::from_secs(30),
            }
        );
        assert!(b.build().is_ok());
    }

    #[test]
    fn invalid_settings() {
        let err = |b: CircuitBreakerBuilder| b.build().err();
        assert_eq!(
            err(CircuitBreaker::builder("x").failure_threshold(0)),
            Some(ConfigError::Zero {
                setting: "failure threshold"
            })
        );
        assert_eq!(
            err(CircuitBreaker::builder("x").success_threshold(0)),
            Some(ConfigError::Zero {
                setting: "success threshold"
            })
        );
        assert_eq!(
            err(CircuitBreaker::builder("x").open_timeout(Duration::ZERO)),
            Some(ConfigError::ZeroDuration {
                setting: "open timeout"
            })
        );
    }
}
