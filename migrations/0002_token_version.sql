ALTER TABLE `principals` ADD `token_version` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `principals` DROP COLUMN `tokens_revoked_at`;