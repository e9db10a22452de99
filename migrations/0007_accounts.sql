ALTER TABLE `capacity_accounts` ADD `status_changed_at` integer;--> statement-breakpoint
ALTER TABLE `capacity_accounts` ADD `credentials_sealed` text;--> statement-breakpoint
ALTER TABLE `capacity_accounts` ADD `runpod` text;--> statement-breakpoint
ALTER TABLE `capacity_accounts` ADD `pod_id` text;--> statement-breakpoint
ALTER TABLE `capacity_accounts` ADD `monthly_limit_usd` real DEFAULT 50 NOT NULL;--> statement-breakpoint
ALTER TABLE `capacity_accounts` ADD `accrued_usd` real DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `capacity_accounts` ADD `cost_per_hour_usd` real;--> statement-breakpoint
ALTER TABLE `capacity_accounts` ADD `billing_since` integer;--> statement-breakpoint
ALTER TABLE `capacity_accounts` ADD `last_error` text;--> statement-breakpoint
ALTER TABLE `capacity_accounts` ADD `failure_type` text;--> statement-breakpoint
ALTER TABLE `capacity_accounts` ADD `fail_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `audit_events_actor_idx` ON `audit_events` (`actor`,`at`);