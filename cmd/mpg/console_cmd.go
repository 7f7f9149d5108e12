package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"mpg/engine"
)

// The people who sign in to the operator console: add (the password read from stdin or
// MPG_CONSOLE_PASSWORD, hashed here, never sent or stored as typed), list, disable.

// ConsolePasswordEnv gives `mpg console user add` the password without a terminal.
const ConsolePasswordEnv = "MPG_CONSOLE_PASSWORD"

// passwordHashFlag carries the hash from the CLI to the daemon (hidden: people type the
// password, never this).
const passwordHashFlag = "password-hash"

func (a *app) consoleCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "console",
		Short: "The operator console's users: add, list, disable",
		Example: `  echo 'a long passphrase' | mpg console user add ann --role operator
  mpg console user list
  mpg console user disable ann`,
	}
	u := &cobra.Command{
		Use:   "user",
		Short: "Console users: add, list, disable",
		Example: `  MPG_CONSOLE_PASSWORD='a long passphrase' mpg console user add root --role admin
  mpg console user list -o json`,
	}
	u.AddCommand(a.consoleUserAddCmd(), a.consoleUserListCmd(), a.consoleUserDisableCmd())
	c.AddCommand(u)
	return c
}

func (a *app) consoleUserAddCmd() *cobra.Command {
	var role, hash string
	c := &cobra.Command{
		Use:   "add <name>",
		Short: "Add a console user with a role: viewer, operator or admin",
		Long: `add makes a console user. The password (10 to 256 characters) is read from MPG_CONSOLE_PASSWORD,
else from the first line of stdin; it is hashed with argon2id here, and only the hash is kept.
viewer reads the dashboards and payments (numbers masked); operator also acts on subscribers
and decides fraud holds; admin also manages console users.`,
		Example: `  echo 'a long passphrase' | mpg console user add ann --role operator
  MPG_CONSOLE_PASSWORD='another passphrase' mpg console user add root --role admin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := engine.ParseConsoleRole(role)
			if err != nil {
				return err
			}
			return a.withLedger(func(l store) error {
				u, err := a.engine(l).AddConsoleUser(cmd.Context(), a.actor(), args[0], r, hash)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "console user %s added, role %s\n", u.Name, u.Role)
				return nil
			})
		},
	}
	c.Flags().StringVar(&role, "role", "viewer", "viewer, operator or admin")
	c.Flags().StringVar(&hash, passwordHashFlag, "", "the password's argon2id hash (set by the CLI itself)")
	c.Flags().MarkHidden(passwordHashFlag)
	return c
}

// hashPassword reads the password of `console user add` and puts its hash in the hidden
// flag, before the command runs here or goes to the daemon: the password never leaves this
// process.
func hashPassword(cmd *cobra.Command) error {
	f := cmd.Flags().Lookup(passwordHashFlag)
	if f == nil || f.Changed {
		return nil
	}
	pw, ok := os.LookupEnv(ConsolePasswordEnv)
	if !ok {
		line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if err != nil && line == "" {
			return errors.New("console user add: give the password on stdin or in " + ConsolePasswordEnv)
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	h, err := engine.HashPassword(pw)
	if err != nil {
		return err
	}
	return cmd.Flags().Set(passwordHashFlag, h)
}

func (a *app) consoleUserListCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:     "list",
		Short:   "List console users: role, status, last sign-in (never a password or its hash)",
		Example: "  mpg console user list\n  mpg console user list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withLedger(func(l store) error {
				users, err := a.engine(l).ConsoleUsers()
				if err != nil || output == "json" {
					if err == nil {
						err = writeJSON(cmd.OutOrStdout(), users)
					}
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tROLE\tSTATUS\tCREATED\tLAST SIGN-IN")
				for _, u := range users {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, userStatus(u), stamp(u.Created), lastLogin(u))
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "table", "output: table or json")
	return c
}

func userStatus(u engine.ConsoleUser) string {
	if u.Disabled != 0 {
		return "disabled " + stamp(u.Disabled)
	}
	return "active"
}

func lastLogin(u engine.ConsoleUser) string {
	if u.LastLogin == 0 {
		return "never"
	}
	return stamp(u.LastLogin)
}

func (a *app) consoleUserDisableCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "disable <name>",
		Short:   "Disable a console user for good: his sessions end at their next request",
		Example: "  mpg console user disable ann",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withLedger(func(l store) error {
				if err := a.engine(l).DisableConsoleUser(cmd.Context(), a.actor(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "console user %s disabled\n", strings.ToLower(args[0]))
				return nil
			})
		},
	}
}
