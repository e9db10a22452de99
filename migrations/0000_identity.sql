CREATE TABLE `audit_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`request_id` text,
	`ip` text,
	`principal_id` integer,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`target` text,
	`success` integer NOT NULL,
	`details` text
);
--> statement-breakpoint
CREATE INDEX `audit_events_at_idx` ON `audit_events` (`at`);--> statement-breakpoint
CREATE INDEX `audit_events_action_idx` ON `audit_events` (`action`,`at`);--> statement-breakpoint
CREATE TABLE `capacity_accounts` (
	`id` text PRIMARY KEY NOT NULL,
	`label` text NOT NULL,
	`provider` text NOT NULL,
	`status` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `credentials` (
	`id` text PRIMARY KEY NOT NULL,
	`principal_id` integer NOT NULL,
	`kind` text NOT NULL,
	`token_hash` text NOT NULL,
	`prefix` text NOT NULL,
	`label` text,
	`scopes` text,
	`family_id` text,
	`replaced_by` text,
	`csrf_hash` text,
	`idle_timeout_s` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`expires_at` integer,
	`last_used_at` integer,
	`revoked_at` integer,
	`revoked_reason` text,
	FOREIGN KEY (`principal_id`) REFERENCES `principals`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `credentials_token_hash_unique` ON `credentials` (`token_hash`);--> statement-breakpoint
CREATE INDEX `credentials_principal_idx` ON `credentials` (`principal_id`,`kind`);--> statement-breakpoint
CREATE TABLE `idempotency_records` (
	`principal_id` integer NOT NULL,
	`key` text NOT NULL,
	`method` text NOT NULL,
	`path` text NOT NULL,
	`body_hash` text NOT NULL,
	`state` text NOT NULL,
	`status` integer,
	`content_type` text,
	`body` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`expires_at` integer NOT NULL,
	PRIMARY KEY(`principal_id`, `key`)
);
--> statement-breakpoint
CREATE INDEX `idempotency_expiry_idx` ON `idempotency_records` (`expires_at`);--> statement-breakpoint
CREATE TABLE `principals` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`username` text,
	`email` text,
	`password_hash` text,
	`capacity_account_id` text,
	`quota_concurrent` integer,
	`quota_daily` integer,
	`tokens_revoked_at` integer,
	`disabled_at` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`capacity_account_id`) REFERENCES `capacity_accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `principals_username_unique` ON `principals` (`username`);--> statement-breakpoint
CREATE UNIQUE INDEX `principals_email_unique` ON `principals` (`email`);