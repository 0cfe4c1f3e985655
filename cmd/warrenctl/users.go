package main

import (
	"bufio"
	"net/http"
	"strings"

	"github.com/spf13/cobra"
)

// The user verbs: add_user, delete_user, change_password, set_user_tags,
// through /api/users/{user}.

func (c *ctl) userCommands() []*cobra.Command {
	return []*cobra.Command{
		{
			Use:   "add_user <username> [<password>]",
			Short: "Creates a new user in the internal database; the password is read from standard input when not given",
			Args:  argsBetween(1, 2),
			RunE:  func(_ *cobra.Command, args []string) error { return c.addUser(args) },
		},
		{
			Use:   "delete_user <username>",
			Short: "Removes the specified user",
			Args:  argsBetween(1, 1),
			RunE:  func(_ *cobra.Command, args []string) error { return c.deleteUser(args[0]) },
		},
		{
			Use:   "change_password <username> <password>",
			Short: "Changes the user password",
			Args:  argsBetween(2, 2),
			RunE:  func(_ *cobra.Command, args []string) error { return c.changePassword(args[0], args[1]) },
		},
		{
			Use:   "set_user_tags <username> <tag> [...]",
			Short: "Sets user tags (none given: clears them)",
			Args:  argsBetween(1, -1),
			RunE:  func(_ *cobra.Command, args []string) error { return c.setUserTags(args[0], args[1:]) },
		},
	}
}

// apiUser is a user as the API lists it.
type apiUser struct {
	Name             string   `json:"name"`
	PasswordHash     string   `json:"password_hash"`
	HashingAlgorithm string   `json:"hashing_algorithm"`
	Tags             []string `json:"tags"`
}

// user fetches a user, failing as rabbitmqctl does when it does not exist.
func (c *ctl) user(name string) (apiUser, error) {
	ctx, cancel := c.ctx()
	defer cancel()
	var u apiUser
	err := c.api.get(ctx, apiPath("users", name), &u, func() error { return noSuchUser(name) })
	return u, err
}

func (c *ctl) addUser(args []string) error {
	name := args[0]
	if name == "" {
		return badArgument("user cannot be an empty string")
	}
	var password string
	if len(args) == 2 {
		password = args[1]
	} else {
		line, err := bufio.NewReader(c.in).ReadString('\n')
		if line == "" && err != nil {
			return fail(exitDataErr, "Error: Password is not provided via argument or stdin")
		}
		password = strings.TrimRight(line, "\r\n")
	}
	c.banner("Adding user \"" + name + "\" ...")
	ctx, cancel := c.ctx()
	defer cancel()
	found, err := c.api.exists(ctx, apiPath("users", name))
	if err != nil {
		return err
	}
	if found {
		return fail(exitSoftware, "Error:\nUser %q already exists", name)
	}
	body := map[string]any{"password": password, "tags": ""}
	if _, err := c.api.call(ctx, request{method: http.MethodPut, path: apiPath("users", name), body: body}, nil); err != nil {
		return err
	}
	c.say("Done. Don't forget to grant the user permissions to some virtual hosts! See 'warrenctl help set_permissions' to learn more.")
	return nil
}

func (c *ctl) deleteUser(name string) error {
	c.banner("Deleting user \"" + name + "\" ...")
	ctx, cancel := c.ctx()
	defer cancel()
	_, err := c.api.call(ctx, request{method: http.MethodDelete, path: apiPath("users", name)},
		func() error { return noSuchUser(name) })
	return err
}

func (c *ctl) changePassword(name, password string) error {
	c.banner("Changing password for user \"" + name + "\" ...")
	u, err := c.user(name)
	if err != nil {
		return err
	}
	ctx, cancel := c.ctx()
	defer cancel()
	body := map[string]any{"password": password, "tags": orEmpty(u.Tags)}
	_, err = c.api.call(ctx, request{method: http.MethodPut, path: apiPath("users", name), body: body},
		func() error { return noSuchUser(name) })
	return err
}

// setUserTags replaces a user's tags, keeping its password hash.
func (c *ctl) setUserTags(name string, tags []string) error {
	c.banner("Setting tags for user \"" + name + "\" to [" + strings.Join(tags, ", ") + "] ...")
	u, err := c.user(name)
	if err != nil {
		return err
	}
	ctx, cancel := c.ctx()
	defer cancel()
	body := map[string]any{"password_hash": u.PasswordHash, "hashing_algorithm": u.HashingAlgorithm, "tags": orEmpty(tags)}
	_, err = c.api.call(ctx, request{method: http.MethodPut, path: apiPath("users", name), body: body},
		func() error { return noSuchUser(name) })
	return err
}

// orEmpty is a list that encodes as [] rather than null.
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
